import BatonStore
import BatonWire
import Logging
import ZeroMQ

/// One broker turn's I/O around the engine: reading, committing, sending.
///
/// A turn's output goes to the `Committer`; its messages go out when the committer
/// hands it back committed. Up to `maxInFlight` turns may be queued or committing while
/// the loop reads and decides the next one: memory runs ahead of the store by at most
/// that many turns, and nothing of them is visible outside before its commit.
struct Turn {
    var engine: Engine
    let store: Store
    let reads: ReadSide
    let committer: Committer
    let clients: Socket
    let workers: Socket
    let logger: Logger
    /// Set when a failed commit left memory ahead of the store and reloading failed too;
    /// until a reload succeeds, client requests get ERROR unavailable.
    var needsRestore = false
    /// Turns handed to the committer and not yet back.
    var inFlight = 0
    /// A commit failed: the turns still in flight come back failed too (they were decided
    /// on top of it); when the last is back, memory is rebuilt from the store.
    var failed = false

    /// Whether workflows were held in memory since the heap was last trimmed.
    var heldWorkflows = false
    var lastTrimMs: Int64 = 0

    /// Turns that may be in flight at once.
    static let maxInFlight = 4

    /// Whether the loop may read and decide another turn now.
    var canStartTurn: Bool { !failed && inFlight < Self.maxInFlight }

    mutating func drainClients(max: Int, maxBody: Int, now: Int64) throws {
        for _ in 0..<max {
            guard let frames = try clients.receive(dontWait: true) else { return }
            guard let peer = frames.first, frames.count > 1 else { continue }
            do throws(ClientFrames.Rejection) {
                let request = try ClientFrames.decodeRequest(frames.dropFirst(), maxBytes: maxBody)
                if needsRestore {
                    // Memory may be ahead of the store: nothing is decided until a reload
                    // succeeds, so the answer goes out at once, not through the engine.
                    let refusal = WireError(.unavailable, "the store is failing; retry later")
                    sendClient(ClientReply(peer: peer, command: .error, tag: request.tag, body: refusal.body))
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

    /// Ends the engine's turn and hands its output on. A turn with nothing to write and
    /// nothing ahead of it in flight goes out at once (a PING, a STATUS from memory):
    /// there is nothing for its messages to wait for.
    mutating func finish(now: Int64) {
        let output = engine.finishTurn(now: now)
        for n in output.notes {
            switch n.level {
            case .info: logger.info("\(n.text)")
            case .warning: logger.warning("\(n.text)")
            }
        }
        if inFlight == 0 && output.writes.isEmpty {
            send(output, answers: output.reads.map(reads.answer))
            engine.turnCommitted()
            return
        }
        committer.submit(output)
        inFlight += 1
    }

    /// Sends what the committer has finished, in order. If a commit failed, nothing of
    /// that turn or the turns after it happened: their clients get ERROR unavailable, no
    /// job goes out, and once none is in flight memory is rebuilt from the store (the
    /// source of truth).
    mutating func sendCommitted() {
        for done in committer.takeDone() {
            inFlight -= 1
            if let failure = done.failure {
                if !failed { logger.error("commit failed, answering the turns in flight with ERROR unavailable: \(failure)") }
                failed = true
                fail(done.output, failure)
            } else {
                send(done.output, answers: done.answers)
                engine.turnCommitted()
            }
        }
        if failed && inFlight == 0 {
            failed = false
            restoreFromStore()
            // Until a reload succeeds the committer keeps refusing: nothing decided on
            // memory that is ahead of the store may be committed.
            if !needsRestore { committer.resume() }
        }
    }

    /// When the broker has gone idle (no workflow in memory, no turn in flight) after
    /// holding some, gives the freed heap back to the OS, at most once a second: RSS then
    /// follows what is held, not the largest burst so far.
    mutating func trimHeapIfIdle(now: Int64) {
        if engine.workflowsInMemory > 0 {
            heldWorkflows = true
            return
        }
        guard heldWorkflows, inFlight == 0, now - lastTrimMs >= 1000 else { return }
        Heap.returnFreeMemory()
        heldWorkflows = false
        lastTrimMs = now
    }

    /// Waits until every turn in flight is back, and sends them (graceful stop).
    mutating func waitForCommits() {
        var poller = try? Poller([.fd(committer.readyFd)])
        while inFlight > 0 {
            _ = try? poller?.poll(timeoutMs: 100)
            sendCommitted()
        }
    }

    private mutating func send(_ output: TurnOutput, answers: [ClientReply]) {
        for r in output.replies { sendClient(r) }
        for r in answers { sendClient(r) }
        for s in output.workerSends where !sendWorker(s) {
            unreachableWorkers.insert(s.peer)
        }
    }

    private func fail(_ output: TurnOutput, _ error: any Error) {
        let failure = WireError(.unavailable, "the broker could not store this change (\(error)); nothing was changed, retry later")
        for r in output.replies { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: failure.body)) }
        for r in output.reads { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: failure.body)) }
    }

    /// Workers a send failed to; the engine drops them at the next turn.
    var unreachableWorkers: Set<PeerId> = []

    mutating func dropUnreachableWorkers(now: Int64) {
        for peer in unreachableWorkers { engine.workerUnreachable(peer, now: now) }
        unreachableWorkers = []
    }

    mutating func restoreFromStore() {
        lastRestoreAttemptMs = Clock.nowMs()
        do {
            engine.restore(try store.loadActive(), now: Clock.nowMs())
            needsRestore = false
        } catch {
            logger.error("cannot reload state from the store: \(error)")
            needsRestore = true
        }
    }

    var lastRestoreAttemptMs: Int64 = 0

    /// While a reload of memory keeps failing, retried at most twice a second (it reads
    /// every unfinished workflow). Meanwhile turns only refuse: clients get ERROR
    /// unavailable, worker messages are dropped, no timer fires.
    mutating func retryRestoreIfNeeded(now: Int64) {
        guard needsRestore, inFlight == 0, now - lastRestoreAttemptMs >= 500 else { return }
        lastRestoreAttemptMs = now
        restoreFromStore()
        if !needsRestore { committer.resume() }
    }

    func sendClient(_ r: ClientReply) {
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
