/// Writes a histogram family in the Prometheus text format from absolute values.
///
/// Why not swift-prometheus's `Histogram`: it only takes observations (`record(_:)`),
/// one at a time, and keeps its own sum. STATS hands over finished buckets and a sum;
/// replaying them as synthetic observations can match the bucket counts but not the sum
/// (each fake observation adds its own value), so the series would be wrong. Writing the
/// few lines here keeps them exact; counters and gauges still go through the registry.
enum HistogramText {
    static func write(_ family: HistogramFamily, into out: inout String) {
        let h = family.histogram
        out += "# HELP \(family.name) \(family.help)\n"
        out += "# TYPE \(family.name) histogram\n"
        for (le, count) in zip(h.le, h.counts) {
            out += "\(family.name)_bucket{le=\"\(bound(le))\"} \(count)\n"
        }
        out += "\(family.name)_bucket{le=\"+Inf\"} \(h.count)\n"
        out += "\(family.name)_sum \(number(h.sum))\n"
        out += "\(family.name)_count \(h.count)\n"
    }

    /// A bound as Prometheus clients write it: `1`, `0.005`, `+Inf`.
    static func bound(_ d: Double) -> String {
        if d == .infinity { return "+Inf" }
        return number(d)
    }

    static func number(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }
}
