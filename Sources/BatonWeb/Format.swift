import BatonWire
import Foundation

/// How values look on the pages: the broker's own RFC 3339 timestamps (so a page greps
/// like a log line), short durations, byte sizes.
enum Format {
    static func time(_ ms: Int64?) -> String { ms.map { Timestamp.format(ms: $0) } ?? "–" }

    /// "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min".
    static func duration(ms: Int64) -> String {
        if ms < 1000 { return "\(max(0, ms)) ms" }
        if ms < 60_000 { return String(format: "%.1f s", Double(ms) / 1000) }
        if ms < 3_600_000 { return String(format: "%d min %02d s", ms / 60_000, ms / 1000 % 60) }
        return String(format: "%d h %02d min", ms / 3_600_000, ms / 60_000 % 60)
    }

    /// From `start` to `end`, or to `now` while it runs; "–" before it started.
    static func duration(from start: Int64?, to end: Int64?, now: Int64) -> String {
        guard let start else { return "–" }
        return duration(ms: (end ?? now) - start)
    }

    static func bytes(_ n: Int64?) -> String {
        guard let n else { return "–" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }

    /// A JSON value as compact text (outputs and progress details).
    static func json(_ v: JSONValue) -> String { JSONWriter.string(v) }

    /// The lower-case CSS class of a state word (`state-succeeded`).
    static func stateClass(_ state: String) -> String { "state-" + state.lowercased() }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
