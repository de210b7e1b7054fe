import BatonStore
import BatonWire

/// Answers the reads the engine deferred until after the turn's commit: STATUS of
/// workflows no longer in memory, event pages for WATCH, LIST, and idempotency keys.
struct ReadSide: Sendable {
    let store: Store
    let pageSize: Int
    /// Finished workflows read lately, shared by every copy (loop and committer).
    let finished = FinishedRecords()

    /// The workflow last read in a run of reads: STATUS of one workflow asked many times
    /// in a row (a flood, or its pages) reads and parses it once and shares the record.
    /// One entry only, so a run of reads of many workflows holds one record at a time.
    final class Memo {
        fileprivate var last: (id: String, record: WorkflowRecord?)?
    }

    func answer(_ read: DeferredRead) -> ClientReply {
        answer(read, memo: Memo())
    }

    /// A turn's reads, sharing one `Memo`.
    func answer(_ reads: [DeferredRead]) -> [ClientReply] {
        let memo = Memo()
        return reads.map { answer($0, memo: memo) }
    }

    func answer(_ read: DeferredRead, memo: Memo) -> ClientReply {
        switch read {
        case .status(let peer, let tag, let id, let jobsFrom, let owner):
            return reply(peer, tag) {
                // Another owner's workflow answers exactly like no workflow (spec §3.6).
                guard let w = try workflow(id, memo), owner.admits(w.owner) else { throw Engine.notFound(id) }
                return (.status, .encoded(w.statusPageBytes(from: jobsFrom)))
            }
        case .events(let peer, let tag, let id, let after, let owner):
            return reply(peer, tag) {
                guard let page = try store.eventsReply(workflowId: id, after: after, limit: pageSize), owner.admits(page.owner) else {
                    throw Engine.notFound(id)
                }
                return (.events, .encoded(page.bytes))
            }
        case .list(let peer, let tag, let query):
            return reply(peer, tag) {
                let page = try store.list(query)
                return (.list, .encoded(WorkflowSummary.listReplyBytes(page.workflows, next: page.next)))
            }
        }
    }

    private func workflow(_ id: String, _ memo: Memo) throws -> WorkflowRecord? {
        if let last = memo.last, last.id == id { return last.record }
        memo.last = nil  // freed before the next read, not after
        if let kept = finished.record(id) {
            memo.last = (id, kept)
            return kept
        }
        let generation = finished.generation
        let read = try store.workflow(id: id)
        if let read { finished.keep(read, readAt: generation) }
        memo.last = (id, read)
        return read
    }

    /// Which stored workflow holds `key`, for a SUBMIT the engine parked on it.
    func lookUp(key: String) -> KeyLookup {
        do {
            return KeyLookup(key: key, found: .success(try store.workflow(idempotencyKey: key)))
        } catch {
            return KeyLookup(key: key, found: .failure(WireError(.unavailable, "cannot read the store: \(error)")))
        }
    }

    /// A dormant workflow, for the engine to hold in memory before EXEC, CANCEL or expiry.
    func load(id: String) -> KeyLookup {
        do {
            return KeyLookup(key: id, found: .success(try store.workflow(id: id)), isWorkflowLoad: true)
        } catch {
            return KeyLookup(key: id, found: .failure(WireError(.unavailable, "cannot read the store: \(error)")), isWorkflowLoad: true)
        }
    }

    /// Every answer a committed turn's engine asked for.
    func lookUps(_ turn: TurnOutput) -> [KeyLookup] {
        turn.keyLookups.map(lookUp) + turn.workflowLoads.map(load)
    }

    private func reply(_ peer: PeerId, _ tag: [UInt8], _ body: () throws -> (ReplyCommand, ClientReply.Payload)) -> ClientReply {
        do {
            let (command, payload) = try body()
            return ClientReply(peer: peer, command: command, tag: tag, payload: payload)
        } catch let error as WireError {
            return ClientReply(peer: peer, command: .error, tag: tag, body: error.body)
        } catch {
            return ClientReply(peer: peer, command: .error, tag: tag,
                               body: WireError(.unavailable, "cannot read the store: \(error)").body)
        }
    }
}
