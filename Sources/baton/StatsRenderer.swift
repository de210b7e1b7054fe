import BatonWire
import Foundation

/// A STATS reply (spec §4.3.10) for people: a few lines, a table per list. Reads
/// fields leniently (a missing one shows as 0), since a newer broker may add fields
/// and an older one lacks some.
enum StatsRenderer {
    static func render(_ body: [String: JSONValue]) -> String {
        var lines: [String] = []
        let since = body["started_at"]?.stringValue ?? "?"
        lines.append("broker \(body["time"]?.stringValue ?? "?"), up since \(since)")
        let w = body["workflows"]
        let f = body["finished"]
        lines.append("workflows: \(int(w, "RUNNING")) running, \(int(w, "SUBMITTED")) submitted, \(int(w, "STOPPED")) stopped")
        lines.append("finished since start: \(int(f, "SUCCEEDED")) succeeded, \(int(f, "FAILED")) failed, \(int(f, "CANCELLED")) cancelled, \(int(f, "EXPIRED")) expired")
        let types = body["job_types"]?.arrayValue ?? []
        let queued = types.reduce(0) { $0 + int($1, "queued") }
        let waiting = body["waiting"]
        lines.append("jobs: \(body["running"]?.intValue ?? 0) running, \(queued) queued (\(int(waiting, "rate_limited")) held by a rate limit, \(int(waiting, "no_worker")) with no worker)")
        if !types.isEmpty {
            lines.append("")
            lines.append(pad("JOB TYPE", 30) + "  " + lpad("QUEUED", 8) + "  " + lpad("RUNNING", 8) + "  " + lpad("WORKERS", 8))
            for t in types {
                lines.append(pad(Style.cut(t["type"]?.stringValue ?? "?", 30), 30) + "  " + lpad("\(int(t, "queued"))", 8) + "  "
                    + lpad("\(int(t, "running"))", 8) + "  " + lpad("\(int(t, "workers"))", 8))
            }
        }
        let workers = body["workers"]?.arrayValue ?? []
        lines.append("")
        lines.append("workers: \(workers.count) connected, \(workers.count { $0["draining"]?.boolValue == true }) draining (baton workers lists them)")
        let c = body["counters"]
        lines.append("since start: \(int(c, "submitted")) submitted, \(int(c, "executed")) executed, \(int(c, "dispatched")) jobs dispatched, "
            + "\(int(c, "succeeded")) succeeded, \(int(c, "failed")) failed, \(int(c, "retries")) retries, \(int(c, "timeouts")) timeouts, "
            + "\(int(c, "heartbeat_timeouts")) heartbeat timeouts, \(int(c, "workers_lost")) workers lost, \(int(c, "fenced")) fenced")
        let rejected = (c?["rejected"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
        let rejectedText = rejected.isEmpty ? "" : " (" + rejected.map { "\($0.key) \($0.value.intValue ?? 0)" }.joined(separator: ", ") + ")"
        lines.append("requests: \(int(c, "requests")) received, \(rejected.reduce(0) { $0 + ($1.value.intValue ?? 0) }) ERROR replies\(rejectedText)")
        let commits = body["commits"]
        var commitLine = "turns: \(int(body["turns"], "count")); commits: \(int(commits, "count")) (\(int(commits, "failed")) failed)"
        if let h = commits?["seconds"], let p50 = quantile(h, 0.5), let p99 = quantile(h, 0.99) {
            commitLine += ", commit time p50 ≤ \(seconds(p50)), p99 ≤ \(seconds(p99))"
        }
        lines.append(commitLine)
        let p = body["process"]
        lines.append("process: RSS \(mib(int(p, "rss_bytes"))), database \(mib(int(p, "db_bytes")))")
        return lines.joined(separator: "\n")
    }

    /// A header row and one row per worker, in registration order.
    static func workerTable(_ workers: [JSONValue]) -> [String] {
        var rows = [pad("WORKER", 20) + "  " + pad("STATE", 8) + "  " + lpad("RUNNING", 7) + "  " + lpad("CAPACITY", 8) + "  "
            + pad("LAST SEEN", 24) + "  " + pad("CONNECTED", 24) + "  TYPES"]
        for w in workers {
            let draining = w["draining"]?.boolValue == true
            let types = (w["types"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
            rows.append(pad(Style.cut(w["worker"]?.stringValue ?? "?", 20), 20) + "  " + pad(draining ? "draining" : "ready", 8) + "  "
                + lpad("\(int(w, "running"))", 7) + "  " + lpad("\(int(w, "capacity"))", 8) + "  "
                + pad(w["last_seen"]?.stringValue ?? "?", 24) + "  " + pad(w["connected_at"]?.stringValue ?? "?", 24) + "  " + types)
        }
        if workers.isEmpty { rows.append("(no worker connected)") }
        return rows
    }

    /// The smallest bucket bound holding at least `q` of the observations (an upper
    /// bound on the quantile); nil with no observation or when it lies above every bound.
    static func quantile(_ histogram: JSONValue, _ q: Double) -> Double? {
        guard let total = histogram["count"]?.intValue, total > 0,
              let bounds = histogram["le"]?.arrayValue, let counts = histogram["counts"]?.arrayValue else { return nil }
        let needed = Int64((Double(total) * q).rounded(.up))
        for (bound, count) in zip(bounds, counts) where (count.intValue ?? 0) >= needed {
            return bound.doubleValue
        }
        return nil
    }

    private static func int(_ object: JSONValue?, _ key: String) -> Int64 { object?[key]?.intValue ?? 0 }

    private static func seconds(_ s: Double) -> String {
        s < 1 ? String(format: "%g ms", s * 1000) : String(format: "%g s", s)
    }

    private static func mib(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    private static func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }

    private static func lpad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
}
