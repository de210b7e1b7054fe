import BatonWire

/// The one recovery path after a failed commit (disk full, read-only file, I/O error).
///
/// A failed commit means memory is ahead of the store by that turn and every turn
/// decided after it, and nothing of them may be seen outside:
/// 1. **Unwinding.** The failed turn's clients, and those of every turn still in flight
///    (the committer refuses those without applying them: they were decided on top of
///    the failed one), get ERROR unavailable; no job goes out; no new turn is decided.
/// 2. **Reload.** Once none is in flight, parked requests are refused (their key reads
///    belonged to the lost turns) and memory is rebuilt from the store, the source of
///    truth; then the committer accepts turns again.
/// 3. **Reload failing.** If the store cannot even be read, nothing is decided until a
///    reload succeeds (retried twice a second): each turn only answers clients ERROR
///    unavailable at once (malformed requests get their own error), and drops worker
///    messages; no timer fires.
extension BrokerLoop {
    enum Recovery {
        case healthy
        /// A commit failed; turns still in flight are coming back refused.
        case unwinding
        /// Rebuilding memory failed; `lastAttempt` paces the retries.
        case reloadFailing(lastAttempt: ContinuousClock.Instant)

        /// Whether turns may be decided (on memory that is not ahead of the store).
        var decidesTurns: Bool {
            switch self {
            case .healthy, .reloadFailing: true
            case .unwinding: false
            }
        }

        /// Whether a reload should be tried again now.
        var reloadRetryDue: Bool {
            switch self {
            case .healthy, .unwinding: false
            case .reloadFailing(let last): ContinuousClock.now - last >= Self.reloadRetryInterval
            }
        }

        var isReloadFailing: Bool {
            if case .reloadFailing = self { return true }
            return false
        }

        static let reloadRetryInterval = Duration.milliseconds(500)
    }

    /// A turn came back with its commit failed: its clients hear so, and the loop stops
    /// deciding turns until what is in flight is back (`reloadIfUnwound`).
    func commitFailed(_ output: TurnOutput, _ failure: String) {
        if case .healthy = recovery {
            logger.error("commit failed, answering the turns in flight with ERROR unavailable: \(failure)")
        }
        recovery = .unwinding
        let refusal = WireError(.unavailable, "the broker could not store this change (\(failure)); nothing was changed, retry later")
        for r in output.replies { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: refusal.body)) }
        for r in output.reads { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: refusal.body)) }
        for r in output.stats { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: refusal.body)) }
        for r in output.backups { sendClient(ClientReply(peer: r.peer, command: .error, tag: r.tag, body: refusal.body)) }
    }

    /// Once the last turn in flight is back after a failure, rebuilds memory.
    func reloadIfUnwound() {
        guard case .unwinding = recovery, inFlight == 0 else { return }
        reload()
    }

    /// Refuses what waits on lost state, rebuilds memory from the store, and lets the
    /// committer accept turns again; or, if the store cannot be read, stays refusing.
    private func reload() {
        answeredLookups = []
        let unavailable = WireError(.unavailable, "the store is failing; retry later")
        for p in engine.takeParkedRequests() {
            sendClient(ClientReply(peer: p.peer, command: .error, tag: p.tag, body: unavailable.body))
        }
        do {
            try restoreFromStore()
            recovery = .healthy
            committer.resume()
        } catch {
            logger.error("cannot reload state from the store: \(error)")
            recovery = .reloadFailing(lastAttempt: .now)
        }
    }

    /// While reloading fails: retries when due, and otherwise answers what arrived
    /// without deciding anything. Returns whether it handled this turn.
    func refusedWhileReloadFails() throws -> Bool {
        guard case .reloadFailing = recovery else { return false }
        if recovery.reloadRetryDue {
            reload()
            if case .healthy = recovery { return false }
        }
        let unavailable = WireError(.unavailable, "the store is failing; retry later")
        for _ in 0..<maxBatch {
            guard let frames = try clients.receive(dontWait: true) else { break }
            guard let routingId = frames.first, frames.count > 1 else { continue }
            let peer = PeerId(routingId)
            // Answered at once, malformed or not: no turn runs to carry a queued reply.
            do throws(ClientFrames.Rejection) {
                let request = try ClientFrames.decodeRequest(frames.dropFirst(), maxBytes: maxMessageBytes, typedBodies: true)
                sendClient(ClientReply(peer: peer, command: .error, tag: request.tag, body: unavailable.body))
            } catch {
                sendClient(ClientReply(peer: peer, command: .error, tag: error.tag, body: error.error.body))
            }
        }
        for _ in 0..<maxBatch {
            guard try workers.receive(dontWait: true) != nil else { break }
        }
        return true
    }
}
