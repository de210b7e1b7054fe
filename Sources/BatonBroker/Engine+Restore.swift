import BatonStore
import BatonWire

/// Rebuilding memory from the store: at start, and after a turn whose commit failed.
extension Engine {
    /// Replaces the engine's workflow state with `records` (every non-final workflow in
    /// the store). Connected workers are kept; a running attempt stays assigned only if
    /// the store shows the same attempt RUNNING (it was committed, so the worker really
    /// has it). Any other RUNNING job lost its attempt — at start, the broker restarted
    /// while it ran — which counts toward `max_attempts`, like any ended attempt.
    ///
    /// Parked requests are dropped: their key reads belonged to turns whose commit
    /// failed. The server answers them first (`takeParkedRequests`).
    ///
    /// `stops`: the emergency stops the store holds (it is the truth for them too).
    ///
    /// `dormant`: SUBMITTED workflows known by id only; each is loaded when EXEC, CANCEL
    /// or its expiry needs it.
    public mutating func restore(_ records: [WorkflowRecord], dormant: [DormantWorkflow] = [],
                                 stops: [String: StopRecord], now: Int64) {
        self.stops = stops
        let previous = assignments
        workflows = [:]
        keys = [:]
        progress = [:]
        queues = [:]
        queued = []
        assignments = [:]
        timers.removeAll()
        timersAfterCompaction = 0
        watchers = [:]
        parkedWatches = [:]
        wokenWatches = []
        finishedThisTurn = []
        finishedAwaitingCommit = []
        parked = [:]
        keyReads = [:]
        self.dormant = [:]
        loadReads = [:]
        bucketWakes = []
        bucketHeldSince = [:]
        clientRequests = [:]
        submittedByOwner = [:]
        answeredAwaitingCommit = []
        for peer in workers.keys { workers[peer]!.running = [] }
        if lastHeartbeatAt == 0 { lastHeartbeatAt = now }

        var lost: [JobKey] = []
        for w in records {
            workflows[w.id] = w
            if let key = w.idempotencyKey { keys[key] = w.id }
            switch w.state {
            case .submitted:
                timers.insert(.expire(w.id), at: w.expiresAt.map(steady(fromWall:)) ?? now)
                countSubmitted(w.owner, +1)
            case .running:
                restoreRunning(w, previous: previous, lost: &lost, now: now)
            default:
                break
            }
        }
        restoreDormant(dormant)
        for k in lost {
            attemptFailed(k, error: "broker restarted while the attempt ran", retryable: true, now: now)
        }
        for id in Array(progress.keys) { release(id, now: now) }
        countRunningByName()
        // Every timer set here applies: the first compaction is due once they doubled,
        // not at the first turn (a million dormant expiries made that turn take 0.5 s).
        timersAfterCompaction = timers.count
    }

    /// Bulk work on purpose: a restart over 1,000,000 SUBMITTED workflows spent most of
    /// its time here inserting timers one by one and counting owners row by row.
    private mutating func restoreDormant(_ list: [DormantWorkflow]) {
        guard !list.isEmpty else { return }
        dormant.reserveCapacity(list.count)
        var perOwner: [String?: Int] = [:]
        var lastOwner: String?? = .none
        var run = 0
        for d in list {
            dormant[d.id] = d
            if lastOwner == .some(d.owner) {
                run += 1
            } else {
                if case .some(let owner) = lastOwner { perOwner[owner, default: 0] += run }
                lastOwner = .some(d.owner)
                run = 1
            }
        }
        if case .some(let owner) = lastOwner { perOwner[owner, default: 0] += run }
        for (owner, n) in perOwner { countSubmitted(owner, n) }
        let offset = wallOffsetMs
        timers.insert(contentsOf: list.lazy.map { (Timer.expire($0.id), at: $0.expiresAt - offset) })
    }

    /// Rebuilds the current block's bookkeeping of a RUNNING workflow from its job rows
    /// (at restore, and when EXEC continues a STOPPED one): retries first, then jobs
    /// never started; a RUNNING job keeps its attempt only if `previous` shows the same
    /// attempt on a connected worker, otherwise it goes to `lost`.
    mutating func restoreRunning(_ w: WorkflowRecord, previous: [JobKey: Assignment], lost: inout [JobKey], now: Int64) {
        let b = w.currentBlock
        var p = BlockProgress()
        for (j, r) in w.jobs[b].enumerated() {
            let k = JobKey(workflowId: w.id, block: b, job: j)
            if r.state != .succeeded { p.unfinished += 1 }
            switch r.state {
            case .running:
                if let a = previous[k], a.attempt == r.attempt, workers[a.worker] != nil {
                    assignments[k] = a
                    workers[a.worker]!.running.insert(k)
                    p.active += 1
                    let timeout = w.spec.blocks[b].jobs[j].timeoutMs
                    if timeout > 0 { timers.insert(.timeout(k, attempt: r.attempt), at: (r.startedAt.map(steady(fromWall:)) ?? now) + timeout) }
                    // The heartbeat check too: a recovery must not leave a silent attempt
                    // alive forever. Its window starts again now (the worker's PROGRESS
                    // during the failed turns may not have been seen).
                    let heartbeat = w.spec.blocks[b].jobs[j].heartbeatTimeoutMs
                    if heartbeat > 0 {
                        lastBeat[k] = now
                        timers.insert(.heartbeat(k, attempt: r.attempt), at: now + heartbeat)
                    }
                } else {
                    lost.append(k)
                }
            case .pending where r.attempt > 0:
                if let at = r.retryAt.map(steady(fromWall:)), at > now {
                    timers.insert(.retry(k, attempt: r.attempt), at: at)
                } else {
                    p.retryReady.append(j)
                }
            default:
                break
            }
        }
        progress[w.id] = p
    }
}
