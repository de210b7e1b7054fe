import BatonStore
import BatonWire

/// The job lifecycle: blocks in order, concurrency per block, dispatch, outcomes,
/// retries with backoff, and the end of a workflow.
extension Engine {
    // MARK: Blocks

    /// Makes block `b` the current one and releases its first jobs.
    mutating func startBlock(_ id: String, _ b: Int, now: Int64) {
        guard let unfinished = updateWorkflow(id, { w -> Int in
            w.currentBlock = b
            return w.jobs[b].count(where: { $0.state != .succeeded })
        }) else {
            invariantBroken("startBlock: workflow \(id) is not in memory")
            return
        }
        // The workflow's row is not rewritten for its `current_block` alone: the
        // `block.started` event says it, and the store reads an unfinished workflow's
        // block from its newest one (`Store.record`). The row holds the spec, so each
        // block rewrote the whole spec: ~1.4M instructions per block of a 10,500-job
        // workflow, 14k per job of a 100-block fan-out.
        var p = BlockProgress()
        p.unfinished = unfinished
        progress[id] = p
        emit(id, .blockStarted, at: now, blockFields(b))
        release(id, now: now)
    }

    /// Queues jobs of the current block while fewer than `concurrency` are in flight:
    /// retries whose backoff passed first, then jobs never started, in order.
    mutating func release(_ id: String, now: Int64) {
        guard var p = progress[id] else { return }
        // The jobs to release are found reading the workflow in place (`peek`), then
        // queued: a copy of the whole record (`workflows[id]`, its arrays and strings
        // retained, then released) cost more than the lookup, and most calls (one per
        // RESULT) release one job or none (none allocates nothing here).
        let released = workflows.peek(id) { w -> [(block: Int, job: Int, type: String)] in
            let b = w.currentBlock
            guard w.state == .running else { return [] }
            var picked: [(block: Int, job: Int, type: String)] = []
            while p.active < w.spec.blocks[b].concurrency {
                var next = p.retryReady.popFirst()
                while next == nil && p.cursor < w.spec.blocks[b].jobs.count {
                    let j = p.cursor
                    p.cursor += 1
                    if w.jobs[b][j].state == .pending && w.jobs[b][j].attempt == 0 { next = j }
                }
                guard let j = next else { break }
                picked.append((b, j, w.spec.blocks[b].jobs[j].type))
                p.active += 1
            }
            return picked
        } ?? []
        for (b, j, type) in released {
            let key = JobKey(workflowId: id, block: b, job: j)
            queues[type, default: []].append(key)
            queued.insert(key)
        }
        progress[id] = p
    }

    // MARK: Dispatch

    /// Hands queued jobs to workers: only workers of the job's type with a free slot,
    /// the least loaded (running / capacity) first.
    mutating func dispatchReady(now: Int64) {
        guard !queued.isEmpty else { return }
        for type in Array(queues.keys) {
            // The type's queue is out of the table while its jobs go: one lookup of the
            // type per turn, where the loop made three per job (a job type is a String a
            // client chose, hashed by SipHash). Nothing below reads or adds to `queues`
            // (`dispatch`, `takeToken`, `isDispatchable`, `leastLoadedWorker` do not);
            // what is left goes back before the next type.
            guard var queue = queues.removeValue(forKey: type) else { continue }
            while let key = queue.first {
                guard let worker = leastLoadedWorker(for: type) else {
                    noteIfUnserved(type, waiting: queue.count)
                    break
                }
                queue.removeFirst()
                guard queued.remove(key) != nil, isDispatchable(key) else { continue }
                guard takeToken(type, now: now) else {
                    // The type's bucket is empty: the job keeps its place at the head.
                    queue.prepend(key)
                    queued.insert(key)
                    break
                }
                dispatch(key, to: worker, now: now)
            }
            if queue.isEmpty {
                bucketHeldSince[type] = nil
            } else {
                queues[type] = queue
            }
        }
    }

    /// Logs once that jobs of `type` wait for a worker nobody runs (STATUS shows the
    /// same as `waiting_for` on each job). Checked only when no worker had a free slot.
    mutating func noteIfUnserved(_ type: String, waiting: Int) {
        guard !unservedTypesLogged.contains(type), !workers.values.contains(where: { $0.capacity > 0 && $0.types.contains(type) }) else { return }
        unservedTypesLogged.insert(type)
        note("no connected worker serves job type \"\(type)\": \(waiting) job(s) wait for one", .warning)
    }

    /// Read in place (`peek`): `workflows[id]` copied the whole record to read three fields.
    mutating func isDispatchable(_ k: JobKey) -> Bool {
        workflows.peek(k.workflowId) { w in
            w.state == .running && w.currentBlock == k.block && w.jobs[k.block][k.job].state == .pending
        } ?? false
    }

    func leastLoadedWorker(for type: String) -> PeerId? {
        var best: (peer: Dictionary<PeerId, WorkerState>.Index, load: Double, order: UInt64)?
        // By index, each worker's fields read in place: `for (peer, w) in workers`
        // copied every worker's state (its sets and name retained, then released).
        var i = workers.startIndex
        while i != workers.endIndex {
            defer { i = workers.index(after: i) }
            let running = workers.values[i].running.count, capacity = workers.values[i].capacity
            guard running < capacity, workers.values[i].types.contains(type) else { continue }
            let load = Double(running) / Double(capacity), order = workers.values[i].order
            if best == nil || load < best!.load || (load == best!.load && order < best!.order) {
                best = (i, load, order)
            }
        }
        return best.map { workers.keys[$0.peer] }
    }

    /// Sends attempt + 1 of `k` to `peer`. The caller checked `isDispatchable(k)` and
    /// picked `peer` among the connected workers.
    mutating func dispatch(_ k: JobKey, to peer: PeerId, now: Int64) {
        let id = k.workflowId
        let wallNow = wall(now)
        guard let (spec, attempt, seq) = updateWorkflow(id, { w -> (JobSpec, Int, Int64) in
            w.jobs[k.block][k.job].dispatch(attempt: w.jobs[k.block][k.job].attempt + 1, at: wallNow)
            return (w.spec.blocks[k.block].jobs[k.job], w.jobs[k.block][k.job].attempt, w.takeEventSeq())
        }), let worker = workers.index(forKey: peer) else {
            invariantBroken("dispatch: \(k.jobId) or its worker is gone")
            return
        }
        // No job row is written (the job is not marked dirty): the `job.dispatched`
        // event below, committed in the same transaction before the JOB is sent, holds
        // all a dispatch changes (the attempt, its start), and the store reads a
        // workflow's jobs back with it (`Store.record`). The row was a b-tree write per
        // job made only to be replaced at the job's result (~16k instructions).
        counters.dispatched += 1
        assignments[k] = Assignment(worker: peer, attempt: attempt)
        // Through the index the guard found: one lookup, the state changed in place.
        let workerName = workers.values[worker].takeJob(k)
        if spec.timeoutMs > 0 {
            timers.insert(.timeout(k, attempt: attempt), at: now + spec.timeoutMs)
        }
        if spec.heartbeatTimeoutMs > 0 {
            lastBeat[k] = now
            timers.insert(.heartbeat(k, attempt: attempt), at: now + spec.heartbeatTimeoutMs)
        }
        let job = JobDispatch(workflowId: id, block: k.block, job: k.job, attempt: attempt, spec: spec)
        out.workerSends.append(WorkerSend(peer: peer, dispatch: job))
        emit(id, .jobDispatched, seq: seq, at: now, jobFields(k, attempt: attempt, worker: workerName))
    }

    /// A job event's fields, in key order (`EventFields`' invariant): attempt, block,
    /// details?, error?, job, job_id, retry_at?, worker?.
    func jobFields(_ k: JobKey, attempt: Int, details: JSONValue? = nil, error: String? = nil,
                   retryAt: Int64? = nil, worker: String? = nil) -> EventFields {
        var f = EventFields()
        f.add(.attempt, attempt)
        f.add(.block, k.block)
        if let details { f.add(.details, details) }
        if let error { f.add(.error, error) }
        f.add(.job, k.job)
        f.add(.jobId, jobOf: k.workflowId, block: k.block, job: k.job)
        if let retryAt { f.add(.retryAt, Timestamp.format(ms: retryAt)) }
        if let worker { f.add(.worker, worker) }
        return f
    }

    func blockFields(_ b: Int) -> EventFields {
        var f = EventFields()
        f.add(.block, b)
        return f
    }

    func reasonFields(_ reason: String?) -> EventFields {
        var f = EventFields()
        if let reason { f.add(.reason, reason) }
        return f
    }

    // MARK: Outcomes

    /// Ends the running attempt's bookkeeping: the worker's slot and the block's slot.
    mutating func endAttempt(_ k: JobKey) {
        endAttempt(k, at: assignments.index(forKey: k))
    }

    /// `endAttempt(k)` with the attempt's place in `assignments` (nil: none) already
    /// found. The worker's running set is changed in place through its index: an
    /// optional chain (`workers[peer]?.running.remove(k)`) moved the worker's state out
    /// of the table and back.
    mutating func endAttempt(_ k: JobKey, at slot: Dictionary<JobKey, Assignment>.Index?) {
        if let slot {
            let worker = assignments.values[slot].worker
            assignments.remove(at: slot)
            if let w = workers.index(forKey: worker) { workers.values[w].running.remove(k) }
        }
        if !lastBeat.isEmpty { lastBeat[k] = nil }
        if !progressSeen.isEmpty {
            progressSeen[k] = nil
            progressEventAt[k] = nil
        }
        // In place (`update`): an optional chain (`progress[id]?.active -= 1`) moves the
        // progress out of the table and back, its retry queue's retain and release with it.
        progress.update(k.workflowId) { $0.active -= 1 }
    }

    /// PROGRESS from a worker: a sign of life for its running attempt (same fencing as
    /// RESULT: the attempt must be current and its JOB must have gone to this
    /// connection), details kept for STATUS, and a `job.progress` event at most every
    /// `progressEventEveryMs` per attempt. Anything else is dropped and logged.
    mutating func applyProgress(_ p: ProgressBody, from peer: PeerId, now: Int64) {
        guard let k = JobKey(jobId: p.jobId), let a = assignments[k], a.attempt == p.attempt, a.worker == peer else {
            counters.fenced += 1
            note("dropped PROGRESS for \(p.jobId) attempt \(p.attempt) from worker \(workers[peer]?.name ?? "?"): not its running attempt", .warning)
            return
        }
        if lastBeat[k] != nil { lastBeat[k] = now }
        var details = p.details
        if let d = details, JSONWriter.size(of: d, upTo: ProgressBody.maxDetailsBytes + 1) > ProgressBody.maxDetailsBytes {
            details = .string("(details over \(ProgressBody.maxDetailsBytes) bytes, not kept)")
        }
        progressSeen[k] = (details, wall(now))
        if now - (progressEventAt[k] ?? Int64.min / 2) >= Self.progressEventEveryMs {
            progressEventAt[k] = now
            emit(k.workflowId, .jobProgress, at: now, jobFields(k, attempt: a.attempt, details: details))
        }
    }

    /// Applies a RESULT, if its fencing token `(connection, job_id, attempt)` is the
    /// job's current, still-running attempt on the connection its JOB went to. Anything
    /// else is dropped and logged.
    mutating func applyResult(_ result: ResultBody, from peer: PeerId, now: Int64) {
        // Reads scalars only, in place (`peek`): holding a copy of the record across the
        // mutations below would make them copy the block's job array (copy-on-write),
        // O(jobs) per RESULT.
        guard let k = JobKey(jobId: result.jobId),
              let (state, job) = workflows.peek(k.workflowId, { ($0.state, $0.job(k.block, k.job)) }),
              let r = job
        else {
            counters.fenced += 1
            note("dropped RESULT for unknown or finished job \(result.jobId) attempt \(result.attempt)", .warning)
            return
        }
        // The JOB's own connection only: job ids follow from workflow ids, so any other
        // worker could otherwise complete or fail any job (spec §10.6).
        // Its assignment found once, for the check and for `endAttempt`'s removal.
        let slot = assignments.index(forKey: k)
        let current = r.attempt == result.attempt && slot.map { assignments.values[$0].worker == peer } == true
        switch (state, r.state) {
        case (.running, .running) where current:
            endAttempt(k, at: slot)
            if result.ok {
                counters.succeeded += 1
                succeed(k, output: result.outputText, now: now)
            } else {
                counters.failed += 1
                attemptFailed(k, error: result.error ?? "job failed", retryable: result.retryable, now: now)
            }
        case (.running, .running),
             (.running, .pending), (.running, .succeeded), (.running, .failed), (.running, .cancelled),
             (.submitted, _), (.succeeded, _), (.failed, _), (.cancelled, _), (.stopped, _), (.expired, _):
            counters.fenced += 1
            if let a = assignments[k], a.attempt == result.attempt, a.worker != peer {
                note("dropped RESULT for \(result.jobId) attempt \(result.attempt) from worker \(workers[peer]?.name ?? "?"): that JOB went to another connection", .warning)
            } else {
                note("dropped stale RESULT for \(result.jobId) attempt \(result.attempt) (job is \(r.state.rawValue), attempt \(r.attempt))", .warning)
            }
        }
    }

    mutating func succeed(_ k: JobKey, output: JSONText?, now: Int64) {
        let id = k.workflowId
        let wallNow = wall(now)
        guard let (attempt, blocks, seq) = updateWorkflow(id, { w -> (Int, Int, Int64) in
            w.jobs[k.block][k.job].succeed(output: output, at: wallNow)
            return (w.jobs[k.block][k.job].attempt, w.spec.blocks.count, w.takeEventSeq())
        }) else {
            invariantBroken("succeed: workflow \(id) is not in memory")
            return
        }
        // No job row, as for a dispatch: the event and the output stored with it (its
        // row's `outputs`) hold all a success changes (`Store.record` reads it back).
        emit(id, .jobSucceeded, seq: seq, at: now, jobFields(k, attempt: attempt), output: output)
        // One lookup, in place: the jobs of the block still unfinished after this one.
        guard let left = progress.update(id, { p -> Int in
            p.unfinished -= 1
            return p.unfinished
        }) else {
            // Fallback: without its block's bookkeeping the workflow could never go on;
            // failing it tells its client instead of leaving it RUNNING forever.
            invariantBroken("succeed: RUNNING workflow \(id) has no block progress")
            finish(id, .failed(reason: "internal error: lost track of block \(k.block)"), now: now)
            return
        }
        if left > 0 {
            release(id, now: now)
            return
        }
        emit(id, .blockSucceeded, at: now, blockFields(k.block))
        if k.block + 1 < blocks {
            startBlock(id, k.block + 1, now: now)
        } else {
            finish(id, .succeeded, now: now)
        }
    }

    /// An attempt ended without success (failed RESULT, timeout, lost worker, restart).
    /// Retries with backoff while attempts remain and the failure is retryable;
    /// otherwise fails the job and with it the workflow.
    mutating func attemptFailed(_ k: JobKey, error: String, retryable: Bool, now: Int64) {
        let id = k.workflowId
        guard let w = workflows[id], let current = w.job(k.block, k.job) else {
            invariantBroken("attemptFailed: \(k.jobId) is not in memory")
            return
        }
        let spec = w.spec.blocks[k.block].jobs[k.job]
        var r = current
        r.error = error
        r.finishedAt = wall(now)
        if retryable && r.countedAttempts < spec.retry.maxAttempts {
            r.state = .pending
            let at = now + spec.retry.delay(afterAttempt: r.attempt)
            r.retryAt = wall(at)
            workflows[id]!.jobs[k.block][k.job] = r
            markJobDirty(k)
            emit(id, .jobRetrying, at: now, jobFields(k, attempt: r.attempt, error: error, retryAt: wall(at)))
            counters.retries += 1
            if at <= now {
                progress[id]?.retryReady.append(k.job)
            } else {
                timers.insert(.retry(k, attempt: r.attempt), at: at)
            }
            release(id, now: now)
            return
        }
        r.state = .failed
        workflows[id]!.jobs[k.block][k.job] = r
        markJobDirty(k)
        emit(id, .jobFailed, at: now, jobFields(k, attempt: r.attempt, error: error))
        let attempts = r.countedAttempts == 1 ? "1 attempt" : "\(r.countedAttempts) attempts"
        finish(id, .failed(reason: "job \(k.jobId) (\(spec.type)) failed after \(attempts): \(error)"), now: now)
    }

    /// How a workflow ends: each final state with its event, and only those (a
    /// workflow cannot be "finished" into SUBMITTED or RUNNING).
    enum Outcome {
        case succeeded
        case failed(reason: String)
        case cancelled(reason: String)
        case expired(reason: String)

        var state: WorkflowState {
            switch self {
            case .succeeded: .succeeded
            case .failed: .failed
            case .cancelled: .cancelled
            case .expired: .expired
            }
        }

        var event: EventKind {
            switch self {
            case .succeeded: .workflowSucceeded
            case .failed: .workflowFailed
            case .cancelled: .workflowCancelled
            case .expired: .workflowExpired
            }
        }

        var reason: String? {
            switch self {
            case .succeeded: nil
            case .failed(let r), .cancelled(let r), .expired(let r): r
            }
        }
    }

    /// Ends a workflow in a final state. Running attempts get CANCEL; every unfinished
    /// job becomes CANCELLED, so no later block ever starts.
    mutating func finish(_ id: String, _ outcome: Outcome, now: Int64) {
        // What is read of the workflow, read once in place (`peek`): each `workflows[id]!`
        // read copied the whole record (its arrays and strings retained, then released),
        // once per job besides, ~4,000 instructions for a one-job workflow.
        guard let (previous, name, owner, unfinished) = workflows.peek(id, { w -> (WorkflowState, String, String?, [(Int, Int)]) in
            var open: [(Int, Int)] = []
            for b in w.jobs.indices {
                for j in w.jobs[b].indices where !w.jobs[b][j].state.isFinal { open.append((b, j)) }
            }
            return (w.state, w.spec.name, w.owner, open)
        }) else {
            invariantBroken("finish: workflow \(id) is not in memory")
            return
        }
        let state = outcome.state
        counters.finished[state, default: 0] += 1
        if previous == .running { countStop(name) }
        if previous == .submitted { countSubmitted(owner, -1) }
        for (b, j) in unfinished {
            let k = JobKey(workflowId: id, block: b, job: j)
            if let a = assignments[k] {
                let code: CancelJobBody.Code = state == .failed ? .workflowFailed : state == .cancelled ? .cancelled : .workflowEnded
                send(a.worker, .cancel, CancelJobBody(jobId: k.jobId, attempt: a.attempt, code: code, reason: "workflow \(state.rawValue.lowercased())").body)
                endAttempt(k)
                emit(id, .jobCancelled, at: now, jobFields(k, attempt: a.attempt))
            }
            markJobDirty(k)
            queued.remove(k)
        }
        let wallNow = wall(now)
        // The unfinished jobs are cancelled here, with the workflow's own columns: nothing
        // above reads a job's state (the dirty jobs are written from the record at the
        // end of the turn).
        guard let seq = updateWorkflow(id, { w -> Int64 in
            for (b, j) in unfinished { w.jobs[b][j].state = .cancelled }
            w.state = state
            w.reason = outcome.reason
            w.finishedAt = wallNow
            w.expiresAt = nil
            return w.takeEventSeq()
        }) else {
            invariantBroken("finish: workflow \(id) left memory while finishing")  // nothing above removes one
            return
        }
        progress[id] = nil
        markDirty(id)
        emit(id, outcome.event, seq: seq, at: now, reasonFields(outcome.reason))
        finishedThisTurn.append(id)
        if config.notesInfo {
            note("workflow \(id) finished \(state.rawValue): \"\(name)\", \(owner.map { "owner key \($0)" } ?? "no owner (plain mode)")" + (outcome.reason.map { ": \($0)" } ?? ""),
                 fields: ["workflow_id": id])
        }
    }
}
