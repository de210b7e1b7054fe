import BatonStore
import BatonWire

/// Time-driven transitions: TTL expiry, retry backoff, job timeouts, long-poll ends,
/// heartbeats and worker liveness. `now` is injected; tests advance it by hand.
extension Engine {
    public mutating func tick(now: Int64) {
        while let timer = timers.popDue(now) {
            if let action = timerAction(timer) { fire(action, now: now) }
        }
        if now - lastHeartbeatAt >= config.heartbeatMs {
            lastHeartbeatAt = now
            checkWorkerLiveness(now: now)
            for peer in workers.keys {
                send(peer, .heartbeat, ["interval_ms": .int(config.heartbeatMs)])
            }
        }
    }

    /// What a due timer does, with what it needs already looked up.
    enum TimerAction {
        case expire(String)
        /// A dormant workflow's TTL is over: load it, then expire it.
        case loadToExpire(String)
        case retry(JobKey)
        case timeout(JobKey, Assignment, limitMs: Int64)
        /// The attempt's `heartbeat_timeout_ms` is up unless a PROGRESS came since; `fire`
        /// reads `lastBeat` and either ends the attempt or checks again later.
        case heartbeat(JobKey, Assignment, limitMs: Int64)
        case endWatch(workflowId: String, index: Int)
        /// A job type's bucket has a token again: the turn's dispatch picks it up.
        case tokens(String)
    }

    /// What `timer` would do if it fired now, or nil when it no longer applies. The one
    /// place each timer's condition is written: `tick` fires what it returns, and
    /// compaction drops the timers it returns nil for. Whether a timer applies never
    /// depends on the clock, and once nil it stays nil (states only move forward,
    /// attempts only grow, watcher tokens are never reused), so dropping is safe.
    func timerAction(_ timer: Timer) -> TimerAction? {
        switch timer {
        case .expire(let id):
            guard let state = workflows[id]?.state else { return dormant[id] == nil ? nil : .loadToExpire(id) }
            switch state {
            case .submitted: return .expire(id)
            case .running, .succeeded, .failed, .cancelled, .stopped, .expired: return nil
            }
        case .retry(let k, let attempt):
            guard let w = workflows[k.workflowId], w.currentBlock == k.block, let r = w.job(k.block, k.job) else { return nil }
            switch w.state {
            case .running:
                // Not already on its way: a STOPPED workflow that EXEC continued set a
                // timer of its own for the same attempt.
                let waiting = r.state == .pending && r.attempt == attempt && !queued.contains(k)
                    && !(progress[k.workflowId]?.retryReady.contains(k.job) ?? false)
                return waiting ? .retry(k) : nil
            case .submitted, .succeeded, .failed, .cancelled, .stopped, .expired: return nil
            }
        case .timeout(let k, let attempt):
            guard let a = assignments[k], a.attempt == attempt,
                  let limit = workflows[k.workflowId]?.spec.blocks[k.block].jobs[k.job].timeoutMs else { return nil }
            return .timeout(k, a, limitMs: limit)
        case .heartbeat(let k, let attempt):
            guard let a = assignments[k], a.attempt == attempt,
                  let limit = workflows[k.workflowId]?.spec.blocks[k.block].jobs[k.job].heartbeatTimeoutMs, limit > 0
            else { return nil }
            return .heartbeat(k, a, limitMs: limit)
        case .watch(let id, let token):
            guard let i = watchers[id]?.firstIndex(where: { $0.token == token }) else { return nil }
            return .endWatch(workflowId: id, index: i)
        case .tokens(type: let type):
            return bucketWakes.contains(type) ? .tokens(type) : nil
        }
    }

    mutating func fire(_ action: TimerAction, now: Int64) {
        switch action {
        case .expire(let id):
            finish(id, .expired(reason: "not executed within \(config.ttlMs / 1000) s of SUBMIT"), now: now)
        case .loadToExpire(let id):
            requestLoad(id)
        case .retry(let k):
            progress[k.workflowId]?.retryReady.append(k.job)
            release(k.workflowId, now: now)
        case .timeout(let k, let a, let limit):
            counters.timeouts += 1
            send(a.worker, .cancel, CancelJobBody(jobId: k.jobId, attempt: a.attempt, code: .timeout, reason: "timed out").body)
            endAttempt(k)
            attemptFailed(k, error: "timed out after \(limit) ms", retryable: true, now: now)
        case .heartbeat(let k, let a, let limit):
            let last = lastBeat[k] ?? now
            guard now - last >= limit else {
                // A PROGRESS came since this timer was set: check again a limit after it.
                timers.insert(.heartbeat(k, attempt: a.attempt), at: last + limit)
                return
            }
            counters.heartbeatTimeouts += 1
            send(a.worker, .cancel, CancelJobBody(jobId: k.jobId, attempt: a.attempt, code: .heartbeatTimeout,
                                                  reason: "no PROGRESS for \(limit) ms").body)
            endAttempt(k)
            attemptFailed(k, error: "heartbeat timeout: no PROGRESS for \(limit) ms (heartbeat_timeout_ms)", retryable: true, now: now)
        case .endWatch(let id, let i):
            let w = watchers[id]!.remove(at: i)
            if watchers[id]!.isEmpty { watchers[id] = nil }
            unparkWatch(w.peer)
            wokenWatches.append(.events(peer: w.peer, tag: w.tag, id: id, after: w.after))
        case .tokens(let type):
            bucketWakes.remove(type)
        }
    }

    /// Drops timers that no longer apply once the heap has doubled since the last
    /// compaction: amortised O(1) per timer, memory proportional to live timers.
    ///
    /// Also when no workflow is held in memory: then no timer can apply (each names a
    /// workflow, an attempt of one, or a watcher of one), and an idle broker should
    /// give back what a burst left behind.
    mutating func compactTimersIfNeeded() {
        // Idle: no workflow (whole or dormant) left, so every timer but a token wake-up
        // is stale. Dormant workflows' expiry timers are live: without that check a
        // restart over 200,000 SUBMITTED workflows compacted them all every turn.
        let idle = workflows.isEmpty && dormant.isEmpty && !timers.isEmpty
        guard idle || timers.count >= max(Self.minTimersBeforeCompaction, 2 * timersAfterCompaction) else { return }
        // Moved out first: the predicate reads `self` while the heap is rewritten. It
        // reads a copy taken once: calling `timerAction` on the mutating method's `self`
        // from the closure copied the whole engine (and destroyed the copy) per timer,
        // about 4,000 instructions each, most of a compaction's cost.
        var heap = timers
        timers = DeadlineHeap()
        let engine = self
        heap.removeAll { engine.timerAction($0) == nil }
        timers = heap
        timersAfterCompaction = timers.count
    }

    static let minTimersBeforeCompaction = 4096

    mutating func checkWorkerLiveness(now: Int64) {
        let dead = workers.filter { now - $0.value.lastSeen > config.workerLivenessMs }.map(\.key)
        for peer in dead {
            loseWorker(peer, because: "no message for \(config.workerLivenessMs) ms", now: now)
        }
    }
}
