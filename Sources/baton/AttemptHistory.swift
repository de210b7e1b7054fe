import BatonClient
import BatonWire

/// Each job's attempts, from the workflow's events (spec §7): which worker ran each
/// attempt, when, and how it ended. STATUS carries only a job's latest attempt;
/// `baton status --json` adds this as `attempts` on every job.
struct AttemptHistory {
    /// Per job id, its attempts in order.
    private(set) var attempts: [String: [[String: JSONValue]]] = [:]

    /// Reads every event of `id` (WATCH pages without waiting) into a history.
    static func read(_ id: String, from client: BatonClient) throws -> AttemptHistory {
        var history = AttemptHistory()
        var after: Int64 = 0
        while true {
            let page = try client.watch(id, after: after, waitMs: 0)
            guard let last = page.events.last else { break }
            for e in page.events { history.add(e) }
            after = last.seq
        }
        return history
    }

    mutating func add(_ e: WorkflowEvent) {
        guard let job = e.fields["job_id"]?.stringValue else { return }
        let at = JSONValue.string(Timestamp.format(ms: e.at))
        if e.kind == .jobDispatched {
            var a: [String: JSONValue] = ["attempt": e.fields["attempt"] ?? .null, "dispatched_at": at, "outcome": "running"]
            if let w = e.fields["worker"] { a["worker"] = w }
            attempts[job, default: []].append(a)
            return
        }
        let outcome: String
        switch e.kind {
        case .jobSucceeded: outcome = "succeeded"
        case .jobRetrying: outcome = "retried"
        case .jobFailed: outcome = "failed"
        case .jobCancelled: outcome = "cancelled"
        case .jobStopped: outcome = "stopped"
        default: return
        }
        // The attempt the event ends: the one it names, else (job.cancelled names none) the latest.
        guard var list = attempts[job], !list.isEmpty else { return }
        let n = e.fields["attempt"]
        let i = list.lastIndex { n == nil || $0["attempt"] == n } ?? list.count - 1
        list[i]["outcome"] = .string(outcome)
        list[i]["ended_at"] = at
        if let err = e.fields["error"] { list[i]["error"] = err }
        attempts[job] = list
    }

    /// The STATUS JSON with `attempts` added to each job.
    func annotate(_ status: WorkflowStatus) -> JSONValue {
        guard case .object(var o) = status.json, case .array(let blocks)? = o["blocks"] else { return status.json }
        o["blocks"] = .array(blocks.map { block in
            guard case .object(var b) = block, case .array(let jobs)? = b["jobs"] else { return block }
            b["jobs"] = .array(jobs.map { job in
                guard case .object(var j) = job, let id = j["job_id"]?.stringValue else { return job }
                j["attempts"] = .array((attempts[id] ?? []).map(JSONValue.object))
                return .object(j)
            })
            return .object(b)
        })
        return .object(o)
    }
}
