import BatonWire

/// A fixed-bucket histogram in Prometheus' shape (cumulative counts per upper bound),
/// for STATS (spec §4.3.10). Fixed bounds keep `observe` to a short scan and no
/// allocation; HdrHistogram would be finer, but a dashboard and an exporter want
/// Prometheus buckets, and the bench keeps HdrHistogram for its percentiles.
struct Histogram: Sendable {
    let bounds: [Double]
    /// Observations per bucket (not cumulative): `counts[i]` holds those in
    /// (bounds[i-1], bounds[i]]; the last slot holds those above every bound.
    private var counts: [Int]
    private(set) var count = 0
    private(set) var sum = 0.0

    init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    mutating func observe(_ value: Double) {
        var i = 0
        while i < bounds.count && value > bounds[i] { i += 1 }
        counts[i] += 1
        count += 1
        sum += value
    }

    /// `{"le", "counts" (cumulative), "count", "sum"}`.
    var json: JSONValue {
        var running = 0
        let cumulative: [JSONValue] = bounds.indices.map { i in
            running += counts[i]
            return .int(Int64(running))
        }
        return ["le": .array(bounds.map(JSONValue.double)), "counts": .array(cumulative), "count": .int(Int64(count)), "sum": .double(sum)]
    }

    /// Commit durations in seconds: 0.5 ms (a page-cache fsync) to 5 s (a stalled disk).
    static func commitSeconds() -> Histogram {
        Histogram(bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
    }

    /// Messages read per turn: 1 up to the drain's bound (2 × 256, both sockets).
    static func turnMessages() -> Histogram {
        Histogram(bounds: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    }
}
