import BatonWire

/// STATS (spec §4.3.10): the engine's half of the reply, read from what it keeps
/// anyway. The server adds its own half (turns, commits, process) when it answers.
extension Engine {
    /// A STATS request waiting for the server's half of the reply.
    public struct StatsRequest: Sendable {
        public var peer: PeerId
        public var tag: [UInt8]
        /// The engine's fields of the reply, as of the turn that decided it.
        public var fields: [String: JSONValue]
    }

    /// O(workflows in memory + queued jobs + running attempts): an operator's poll every
    /// few seconds, never on the hot path.
    func statsFields(now: Int64) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "time": .string(Timestamp.format(ms: wall(now))),
            "workflows": workflowGauges(),
            "finished": counters.finishedJSON,
            "running": .int(Int64(assignments.count)),
            "workers": .array(workerRows()),
            "counters": .object(counters.json),
        ]
        let (types, waiting) = jobTypeRows(now: now)
        fields["job_types"] = .array(types)
        fields["waiting"] = waiting
        return fields
    }

    private func workflowGauges() -> JSONValue {
        var counts: [WorkflowState: Int] = [.submitted: dormant.count, .running: 0, .stopped: 0]
        for w in workflows.values where !w.state.isFinal { counts[w.state, default: 0] += 1 }
        return .object(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) }))
    }

    private func workerRows() -> [JSONValue] {
        workers.values.sorted { $0.order < $1.order }.map { w in
            .object([
                "worker": .string(w.name), "types": .array(w.types.sorted().map(JSONValue.string)),
                "capacity": .int(Int64(w.capacity)), "running": .int(Int64(w.running.count)), "draining": .bool(w.capacity == 0),
                "connected_at": .string(Timestamp.format(ms: wall(w.connectedAt))), "last_seen": .string(Timestamp.format(ms: wall(w.lastSeen))),
            ])
        }
    }

    /// One row per job type with queued or running jobs or a worker declaring it, and
    /// the `waiting` object: queued jobs held by an empty bucket or served by no worker.
    private func jobTypeRows(now: Int64) -> ([JSONValue], JSONValue) {
        var queuedBy: [String: Int] = [:]
        for (type, queue) in queues {
            let n = queue.count { queued.contains($0) }
            if n > 0 { queuedBy[type] = n }
        }
        var runningBy: [String: Int] = [:]
        for k in assignments.keys {
            if let type = workflows[k.workflowId]?.spec.blocks[k.block].jobs[k.job].type { runningBy[type, default: 0] += 1 }
        }
        var declaredBy: [String: Int] = [:]
        var served: Set<String> = []
        for w in workers.values {
            for t in w.types { declaredBy[t, default: 0] += 1 }
            if w.capacity > 0 { served.formUnion(w.types) }
        }
        let types = Set(queuedBy.keys).union(runningBy.keys).union(declaredBy.keys).sorted()
        let rows: [JSONValue] = types.map { t in
            .object(["type": .string(t), "queued": .int(Int64(queuedBy[t, default: 0])),
                     "running": .int(Int64(runningBy[t, default: 0])), "workers": .int(Int64(declaredBy[t, default: 0]))])
        }
        var rateLimited = 0, noWorker = 0
        for (t, n) in queuedBy {
            if let bucket = buckets[t], bucket.available(at: now) == 0 { rateLimited += n }
            if !served.contains(t) { noWorker += n }
        }
        let stopped = workflows.values.count { $0.state == .stopped }
        let waiting: JSONValue = ["rate_limited": .int(Int64(rateLimited)), "no_worker": .int(Int64(noWorker)),
                                  "stopped": .int(Int64(stopped))]
        return (rows, waiting)
    }
}
