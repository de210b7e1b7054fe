import BatonStore
import BatonWire
import Logging
import ZeroMQ

/// One broker turn's I/O around the engine: reading, committing, sending.
struct Turn {
    var engine: Engine
    let store: Store
    let reads: ReadSide
    let clients: Socket
    let workers: Socket
    let logger: Logger
    /// Set when a failed commit left memory ahead of the store and reloading failed too;
    /// until a reload succeeds, client requests get ERROR unavailable.
    var needsRestore = false

    mutating func drainClients(max: Int, maxBody: Int, now: Int64) throws {
        for _ in 0..<max {
            guard let frames = try clients.receive(dontWait: true) else { return }
            guard let peer = frames.first, frames.count > 1 else { continue }
            do throws(ClientFrames.Rejection) {
                let request = try ClientFrames.decodeRequest(frames.dropFirst(), maxBytes: maxBody)
                if needsRestore {
                    engine.replyError(peer, request.tag, WireError(.unavailable, "the store is failing; retry later"))
                } else {
                    engine.handleClient(peer, request, now: now)
                }
            } catch {
                engine.replyError(peer, error.tag, error.error)
            }
        }
    }

    mutating func drainWorkers(max: Int, now: Int64) throws {
        for _ in 0..<max {
            guard let frames = try workers.receive(dontWait: true) else { return }
            guard let peer = frames.first, frames.count > 1 else { continue }
            do throws(WireError) {
                let message = try WorkerFrames.decode(frames.dropFirst())
                if !needsRestore { engine.handleWorker(peer, message, now: now) }
            } catch {
                logger.warning("dropped malformed worker message: \(error)")
            }
        }
    }

    /// Commits the turn's writes, then sends. If the commit fails, nothing of the turn
    /// happened: clients get ERROR unavailable, no job goes out, and memory is rebuilt
    /// from the store (the source of truth).
    mutating func commitAndSend(_ output: TurnOutput) {
        for n in output.notes {
            switch n.level {
            case .info: logger.info("\(n.text)")
            case .warning: logger.warning("\(n.text)")
            }
        }
        do {
            try store.apply(output.writes)
        } catch {
            logger.error("commit failed, answering this turn with ERROR unavailable: \(error)")
            let failure = WireError(.unavailable, "the broker could not store this change (\(error)); nothing was changed, retry later")
            for r in output.replies { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: failure.body)) }
            for r in output.reads { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: failure.body)) }
            restoreFromStore()
            return
        }
        for r in output.replies { sendClient(r) }
        for r in output.reads { sendClient(reads.answer(r)) }
        for s in output.workerSends where !sendWorker(s) {
            unreachableWorkers.insert(s.peer)
        }
    }

    /// Workers a send failed to this turn; the engine drops them at the next turn.
    var unreachableWorkers: Set<PeerId> = []

    mutating func dropUnreachableWorkers(now: Int64) {
        for peer in unreachableWorkers { engine.workerUnreachable(peer, now: now) }
        unreachableWorkers = []
    }

    mutating func restoreFromStore() {
        do {
            engine.restore(try store.loadActive(), now: Clock.nowMs())
            needsRestore = false
        } catch {
            logger.error("cannot reload state from the store: \(error)")
            needsRestore = true
        }
    }

    private func sendClient(_ r: ClientReply) {
        send(clients, [r.peer] + ClientFrames.encodeReply(r.command, tag: r.tag, body: r.body), to: "client")
    }

    private func sendWorker(_ s: WorkerSend) -> Bool {
        send(workers, [s.peer] + WorkerFrames.encode(s.message), to: "worker")
    }

    /// ROUTER sends never block the loop: an unknown peer (EHOSTUNREACH, with
    /// ROUTER_MANDATORY) or a full queue (EAGAIN) drops the message, loudly.
    @discardableResult
    private func send(_ socket: Socket, _ frames: [[UInt8]], to who: String) -> Bool {
        do {
            if try socket.send(frames, dontWait: true) { return true }
            logger.warning("\(who) queue full; message dropped")
        } catch {
            logger.warning("\(who) unreachable; message dropped (\(error))")
        }
        return false
    }
}

extension DeferredRead {
    var peer: PeerId {
        switch self {
        case .status(let p, _, _), .events(let p, _, _, _), .list(let p, _, _): p
        }
    }

    var tag: [UInt8] {
        switch self {
        case .status(_, let t, _), .events(_, let t, _, _), .list(_, let t, _): t
        }
    }
}
