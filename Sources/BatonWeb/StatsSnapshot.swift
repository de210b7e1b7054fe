import BatonWire

/// A STATS reply (spec §4.3.10) as typed values, for the pages and the exporter. Lenient
/// the way the spec asks of readers: fields it does not know are ignored, and a figure a
/// broker leaves out reads as absent or 0. Only `started_at` is required, because the
/// exporter tells broker restarts apart by it.
public struct StatsSnapshot: Sendable, Equatable {
    public struct JobType: Sendable, Equatable {
        public var type: String
        public var queued: Int64
        public var running: Int64
        public var workers: Int64
    }

    public struct Worker: Sendable, Equatable {
        public var name: String
        public var types: [String]
        public var capacity: Int64
        public var running: Int64
        public var draining: Bool
        public var connectedAt: Int64?
        public var lastSeen: Int64?
    }

    /// Cumulative buckets as in Prometheus: `counts[i]` observations were ≤ `le[i]`;
    /// `count` is the `+Inf` bucket.
    public struct Histogram: Sendable, Equatable {
        public var le: [Double]
        public var counts: [Int64]
        public var count: Int64
        public var sum: Double
    }

    public var time: Int64?
    public var startedAt: Int64
    /// Gauges by state: SUBMITTED, RUNNING, STOPPED.
    public var workflows: [String: Int64]
    /// Since start, by final state.
    public var finished: [String: Int64]
    public var jobTypes: [JobType]
    public var running: Int64
    /// Queued work held back, by reason: rate_limited, no_worker, stopped.
    public var waiting: [String: Int64]
    public var workers: [Worker]
    /// Since start: requests, submitted, executed, dispatched, succeeded, failed, retries,
    /// timeouts, heartbeat_timeouts, workers_lost, fenced (and any a newer broker adds).
    public var counters: [String: Int64]
    /// Since start: ERROR replies by code.
    public var rejected: [String: Int64]
    public var turns: Int64
    public var turnMessages: Histogram?
    public var commits: Int64
    public var commitsFailed: Int64
    public var commitSeconds: Histogram?
    public var rssBytes: Int64?
    public var dbBytes: Int64?

    public init(json o: [String: JSONValue]) throws(WebError) {
        guard let started = o["started_at"]?.stringValue.flatMap(Timestamp.parse) else {
            throw .badReply("STATS without started_at")
        }
        startedAt = started
        time = o["time"]?.stringValue.flatMap(Timestamp.parse)
        workflows = Self.integers(o["workflows"])
        finished = Self.integers(o["finished"])
        jobTypes = (o["job_types"]?.arrayValue ?? []).compactMap { t in
            guard let type = t["type"]?.stringValue else { return nil }
            return JobType(type: type, queued: t["queued"]?.intValue ?? 0, running: t["running"]?.intValue ?? 0,
                           workers: t["workers"]?.intValue ?? 0)
        }
        running = o["running"]?.intValue ?? 0
        waiting = Self.integers(o["waiting"])
        workers = (o["workers"]?.arrayValue ?? []).map { w in
            Worker(name: w["worker"]?.stringValue ?? "?",
                   types: (w["types"]?.arrayValue ?? []).compactMap(\.stringValue),
                   capacity: w["capacity"]?.intValue ?? 0, running: w["running"]?.intValue ?? 0,
                   draining: w["draining"]?.boolValue ?? false,
                   connectedAt: w["connected_at"]?.stringValue.flatMap(Timestamp.parse),
                   lastSeen: w["last_seen"]?.stringValue.flatMap(Timestamp.parse))
        }
        counters = Self.integers(o["counters"])
        rejected = Self.integers(o["counters"]?["rejected"])
        turns = o["turns"]?["count"]?.intValue ?? 0
        turnMessages = try Self.histogram(o["turns"]?["messages"], "turns.messages")
        commits = o["commits"]?["count"]?.intValue ?? 0
        commitsFailed = o["commits"]?["failed"]?.intValue ?? 0
        commitSeconds = try Self.histogram(o["commits"]?["seconds"], "commits.seconds")
        rssBytes = o["process"]?["rss_bytes"]?.intValue
        dbBytes = o["process"]?["db_bytes"]?.intValue
    }

    /// The integer members of an object (nested objects and other values skipped).
    static func integers(_ value: JSONValue?) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for (k, v) in value?.objectValue ?? [:] {
            if let n = v.intValue { out[k] = n }
        }
        return out
    }

    /// A histogram, checked: as many counts as bounds, bounds increasing, counts
    /// cumulative and at most `count`. A broker that breaks that is a bad reply, not a
    /// series Prometheus would reject later.
    static func histogram(_ value: JSONValue?, _ path: String) throws(WebError) -> Histogram? {
        guard let o = value?.objectValue else { return nil }
        let le = (o["le"]?.arrayValue ?? []).compactMap(number)
        let counts = (o["counts"]?.arrayValue ?? []).compactMap(\.intValue)
        let count = o["count"]?.intValue ?? counts.last ?? 0
        let sum = o["sum"].flatMap(number) ?? 0
        guard le.count == counts.count else { throw .badReply("STATS \(path): \(le.count) bounds but \(counts.count) counts") }
        guard zip(le, le.dropFirst()).allSatisfy({ $0 < $1 }) else { throw .badReply("STATS \(path): bounds not increasing") }
        guard zip(counts, counts.dropFirst()).allSatisfy({ $0 <= $1 }), (counts.last ?? 0) <= count else {
            throw .badReply("STATS \(path): counts not cumulative")
        }
        return Histogram(le: le, counts: counts, count: count, sum: sum)
    }

    static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}
