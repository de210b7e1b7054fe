/// Rates between two STATS replies of the same broker start: what the overview shows as
/// throughput. The counters are cumulative, so a rate needs an earlier sample; the
/// server keeps the last one it read.
struct Throughput: Sendable, Equatable {
    var seconds: Double
    /// Per second: attempts that succeeded, attempts that failed, JOBs dispatched,
    /// workflows finished (any final state), client requests.
    var succeeded: Double
    var failed: Double
    var dispatched: Double
    var finished: Double
    var requests: Double

    /// Nil without an earlier sample of the same broker start at least a second older.
    init?(from old: StatsSnapshot?, to new: StatsSnapshot) {
        guard let old, old.startedAt == new.startedAt, let t0 = old.time, let t1 = new.time, t1 - t0 >= 1000 else {
            return nil
        }
        let s = Double(t1 - t0) / 1000
        func rate(_ a: Int64, _ b: Int64) -> Double { Double(max(0, b - a)) / s }
        seconds = s
        succeeded = rate(old.counters["succeeded"] ?? 0, new.counters["succeeded"] ?? 0)
        failed = rate(old.counters["failed"] ?? 0, new.counters["failed"] ?? 0)
        dispatched = rate(old.counters["dispatched"] ?? 0, new.counters["dispatched"] ?? 0)
        finished = rate(old.finished.values.reduce(0, +), new.finished.values.reduce(0, +))
        requests = rate(old.counters["requests"] ?? 0, new.counters["requests"] ?? 0)
    }
}
