import BatonStore
import BatonWire

/// The emergency stop: STOP parks every RUNNING workflow of a name (or of every name) in
/// STOPPED and refuses SUBMIT and EXEC of it; RESUME lifts the stop; EXEC continues a
/// STOPPED workflow where it stopped. Stops are stored with the turn that sets them.
extension Engine {
    /// The stop covering `name` ("*" first, STOP's before the file's), or nil.
    func stopCovering(_ name: String) -> (name: String, stop: StopRecord)? {
        guard !stops.isEmpty || !fileStops.isEmpty else { return nil }
        for key in [StopRequest.everyName, name] {
            if let s = stops[key] ?? fileStops[key] { return (key, s) }
        }
        return nil
    }

    /// Puts the emergency stop file's stops in force: every RUNNING workflow a stop now
    /// covers stops at once, like after STOP. Names the file no longer stops are free
    /// again unless STOP holds them (EXEC then continues their STOPPED workflows).
    public mutating func useFileStops(_ new: [String: StopRecord], now: Int64) {
        let added = new.filter { fileStops[$0.key] == nil }
        fileStops = new
        guard !added.isEmpty else { return }
        let covered = workflows.values.filter { w in
            w.state == .running && (added[StopRequest.everyName] != nil || added[w.spec.name] != nil)
        }.map(\.id).sorted()
        for id in covered {
            let reason = stopCovering(workflows[id]!.spec.name)?.stop.reason ?? "emergency stop file"
            stopWorkflow(id, reason: reason, now: now)
        }
        note("emergency stop file: stopping \(added.keys.sorted().joined(separator: ", ")); \(covered.count) RUNNING workflow(s) stopped", .warning)
    }

    /// `ERROR stopped` (with `name` and `reason`) when a stop covers `name`.
    func stoppedRefusal(_ name: String) -> WireError? {
        guard let (covering, stop) = stopCovering(name) else { return nil }
        let what = covering == StopRequest.everyName ? "every workflow" : "workflow name \"\(covering)\""
        return WireError(.stopped, "emergency stop of \(what): \(stop.reason)",
                         details: ["name": .string(covering), "reason": .string(stop.reason)])
    }

    mutating func stop(_ peer: PeerId, _ tag: [UInt8], _ request: StopRequest, now: Int64) {
        let record = StopRecord(reason: request.reason, at: wall(now))
        stops[request.name] = record
        out.writes.stops.append((request.name, record))
        let everyName = request.name == StopRequest.everyName
        let covered = workflows.values
            .filter { $0.state == .running && (everyName || $0.spec.name == request.name) }
            .map(\.id).sorted()
        for id in covered { stopWorkflow(id, reason: request.reason, now: now) }
        note("emergency stop of \(everyName ? "every workflow" : "\"\(request.name)\""): \(request.reason); \(covered.count) RUNNING workflow(s) stopped", .warning)
        reply(peer, .ok, tag, ["name": .string(request.name), "stopped": .int(Int64(covered.count))])
    }

    mutating func resume(_ peer: PeerId, _ tag: [UInt8], _ request: ResumeRequest) {
        if stops.removeValue(forKey: request.name) != nil {
            out.writes.stops.append((request.name, nil))
            note("emergency stop of \(request.name == StopRequest.everyName ? "every workflow" : "\"\(request.name)\"") lifted", .warning)
        }
        var body: [String: JSONValue] = ["name": .string(request.name)]
        if fileStops[request.name] != nil {
            // Only an edit of the file lifts its stop; say so rather than seem to succeed.
            body["still_stopped_by"] = "emergency_stop_file"
        }
        reply(peer, .ok, tag, .object(body))
    }

    /// A RUNNING workflow parks in STOPPED: its running attempts get CANCEL and end
    /// without counting toward `max_attempts` (their numbers stay used, for fencing),
    /// queued jobs leave the queues, and nothing more is dispatched.
    mutating func stopWorkflow(_ id: String, reason: String, now: Int64) {
        guard let w = workflows[id], w.jobs.indices.contains(w.currentBlock) else {
            invariantBroken("stopWorkflow: workflow \(id) is not in memory")
            return
        }
        let b = w.currentBlock
        countStop(w.spec.name)
        for j in w.jobs[b].indices {
            let k = JobKey(workflowId: id, block: b, job: j)
            queued.remove(k)
            guard let a = assignments[k] else { continue }
            send(a.worker, .cancel, CancelJobBody(jobId: k.jobId, attempt: a.attempt, code: .stopped, reason: "workflow stopped").body)
            endAttempt(k)
            let wallNow = wall(now)
            updateWorkflow(id) { w in
                w.jobs[b][j].state = .pending
                w.jobs[b][j].stoppedAttempts += 1
                w.jobs[b][j].finishedAt = wallNow
                w.jobs[b][j].retryAt = nil
            }
            markJobDirty(k)
            emit(id, .jobStopped, at: now, jobFields(k, attempt: a.attempt))
        }
        updateWorkflow(id) { w in
            w.state = .stopped
            w.reason = "stopped: \(reason)"
        }
        progress[id] = nil
        markDirty(id)
        // The event's reason is the one STATUS shows, as for every workflow.* event.
        emit(id, .workflowStopped, at: now, reasonFields("stopped: \(reason)"))
    }

    /// EXEC of a STOPPED workflow no stop covers: RUNNING again, its current block's
    /// unfinished jobs queued again (retries first); SUCCEEDED jobs never run again.
    mutating func continueStopped(_ id: String, now: Int64) {
        guard let name = updateWorkflow(id, { w -> String in
            w.state = .running
            w.reason = nil
            return w.spec.name
        }) else { return }
        countContinue(name)
        markDirty(id)
        emit(id, .workflowRunning, at: now)
        var lost: [JobKey] = []  // stays empty: a STOPPED workflow has no RUNNING job
        restoreRunning(workflows[id]!, previous: [:], lost: &lost, now: now)
        release(id, now: now)
    }
}
