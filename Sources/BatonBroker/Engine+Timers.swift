import BatonStore
import BatonWire

/// Time-driven transitions: TTL expiry, retry backoff, job timeouts, long-poll ends,
/// heartbeats and worker liveness. `now` is injected; tests advance it by hand.
extension Engine {
    public mutating func tick(now: Int64) {
        while let timer = timers.popDue(now) {
            fire(timer, now: now)
        }
        if now - lastHeartbeatAt >= config.heartbeatMs {
            lastHeartbeatAt = now
            checkWorkerLiveness(now: now)
            for peer in workers.keys {
                send(peer, .heartbeat, ["interval_ms": .int(config.heartbeatMs)])
            }
        }
    }

    mutating func fire(_ timer: Timer, now: Int64) {
        switch timer {
        case .expire(let id):
            if let w = workflows[id], w.state == .submitted, let at = w.expiresAt, at <= now {
                finish(id, .expired, reason: "not executed within \(config.ttlMs / 1000) s of SUBMIT", now: now)
            }
        case .retry(let k, let attempt):
            if let w = workflows[k.workflowId], w.state == .running, w.currentBlock == k.block {
                let r = w.jobs[k.block][k.job]
                if r.state == .pending && r.attempt == attempt {
                    progress[k.workflowId]?.retryReady.append(k.job)
                    release(k.workflowId, now: now)
                }
            }
        case .timeout(let k, let attempt):
            if let a = assignments[k], a.attempt == attempt {
                let limit = workflows[k.workflowId]!.spec.blocks[k.block].jobs[k.job].timeoutMs
                send(a.worker, .cancel, CancelJobBody(jobId: k.jobId, attempt: attempt, reason: "timed out").body)
                endAttempt(k)
                attemptFailed(k, error: "timed out after \(limit) ms", retryable: true, now: now)
            }
        case .watch(let id, let token):
            guard var parked = watchers[id], let i = parked.firstIndex(where: { $0.token == token }) else { return }
            let w = parked.remove(at: i)
            watchers[id] = parked.isEmpty ? nil : parked
            out.reads.append(.events(peer: w.peer, tag: w.tag, id: id, after: w.after))
        }
    }

    /// Whether a timer can still do anything when it fires: the same conditions `fire`
    /// checks, without the clock. A timer for which this is false never will be true
    /// again (states only move forward, attempts only grow, tokens are never reused).
    func timerApplies(_ timer: Timer) -> Bool {
        switch timer {
        case .expire(let id):
            return workflows[id]?.state == .submitted
        case .retry(let k, let attempt):
            guard let w = workflows[k.workflowId], w.state == .running, w.currentBlock == k.block,
                  let r = w.job(k.block, k.job) else { return false }
            return r.state == .pending && r.attempt == attempt
        case .timeout(let k, let attempt):
            return assignments[k]?.attempt == attempt
        case .watch(let id, let token):
            return watchers[id]?.contains { $0.token == token } ?? false
        }
    }

    /// Drops timers that no longer apply once the heap has doubled since the last
    /// compaction: amortised O(1) per timer, memory proportional to live timers.
    ///
    /// Also when no workflow is held in memory: then no timer can apply (each names a
    /// workflow, an attempt of one, or a watcher of one), and an idle broker should
    /// give back what a burst left behind.
    mutating func compactTimersIfNeeded() {
        let idle = workflows.isEmpty && !timers.isEmpty
        guard idle || timers.count >= max(Self.minTimersBeforeCompaction, 2 * timersAfterCompaction) else { return }
        // Moved out first: the predicate reads `self` while the heap is rewritten.
        var heap = timers
        timers = DeadlineHeap()
        heap.removeAll { !timerApplies($0) }
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
