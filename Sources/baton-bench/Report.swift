import Foundation
import Histogram

/// One reported figure: a value, its target and verdict, and its ratio to the raw limit
/// it sits on.
struct Ratio: Codable {
    /// Which limit: "store", "ZeroMQ", "commit+rtt", ...
    var basis: String
    var value: Double
}

struct Figure: Codable {
    var id: String
    var section: String
    var name: String
    var value: Double?
    var unit: String
    var display: String
    var target: String?
    var pass: Bool?
    /// Baton's figure divided by each raw limit it sits on.
    var ratios: [Ratio] = []
    var notes: String?
    var error: String?
    /// Completions per 100 ms over the measurement window (throughput runs).
    var timeline: [Int]?
}

/// Latency percentiles in microseconds.
struct Percentiles: Codable {
    var count: UInt64
    var p50: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double

    init(_ h: Histogram<UInt64>) {
        count = h.totalCount
        p50 = Double(h.valueAtPercentile(50))
        p99 = Double(h.valueAtPercentile(99))
        p999 = Double(h.valueAtPercentile(99.9))
        max = Double(h.max)
        mean = h.mean
    }

    var text: String { "p50 \(us(p50)) · p99 \(us(p99)) · p99.9 \(us(p999)) · max \(us(max)) (n=\(count))" }
}

/// A histogram of microseconds, 3 significant digits, up to 60 s.
func latencyHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
}

struct BenchResults: Codable {
    var tool = "baton-bench"
    var mode: String
    var date: String
    var command: String
    var commit: String
    var machine: Machine
    var sqlite: String
    var toolchain: String
    var settings: [String: String]
    var limits: [Figure]
    var figures: [Figure]
    var latencies: [String: Percentiles]
    var problems: [String]
    var totalSeconds: Double
}

/// Collects figures as the scenarios produce them.
final class Report {
    var limits: [Figure] = []
    var figures: [Figure] = []
    var latencies: [String: Percentiles] = [:]
    var problems: [String] = []

    func limit(_ id: String, _ name: String, _ value: Double, _ unit: String, _ display: String, notes: String) {
        limits.append(Figure(id: id, section: "limits", name: name, value: value, unit: unit, display: display, notes: notes))
        print("  \(name): \(display)")
    }

    func add(_ f: Figure) {
        figures.append(f)
        var line = "  \(f.name): \(f.display)"
        if let t = f.target { line += "  [target \(t): \(f.pass == true ? "pass" : "MISS")]" }
        if !f.ratios.isEmpty { line += "  (\(ratiosText(f.ratios)))" }
        print(line)
    }

    func failed(_ id: String, _ section: String, _ name: String, target: String? = nil, _ error: String) {
        figures.append(Figure(id: id, section: section, name: name, value: nil, unit: "", display: "error",
                              target: target, pass: target == nil ? nil : false, error: error))
        problems.append("\(name): \(error)")
        print("  \(name): ERROR \(error)")
    }

    func problem(_ text: String) {
        problems.append(text)
        print("  problem: \(text)")
    }

    func markdown(_ r: BenchResults) -> String {
        var md = "# Baton benchmark (\(r.mode))\n\n"
        md += "| | |\n|---|---|\n"
        md += "| Command | `\(r.command)` |\n"
        md += "| Date | \(r.date) |\n"
        md += "| Git commit | \(r.commit) |\n"
        md += "| Machine | \(r.machine.cpus) CPUs (nproc), \(r.machine.cpuModel), Linux \(r.machine.kernel), \(r.machine.memoryGiB) GiB RAM |\n"
        md += "| Databases on | \(r.machine.databaseFilesystem) |\n"
        md += "| Versions | libzmq \(r.machine.libzmq), SQLite \(r.sqlite), \(r.toolchain) |\n"
        for key in r.settings.keys.sorted() { md += "| \(key) | \(r.settings[key]!) |\n" }
        md += "| Run time | \(String(format: "%.1f", r.totalSeconds)) s |\n"

        md += "\n## Raw limits (same run, same machine)\n\n| Limit | Value | How |\n|---|---|---|\n"
        for f in r.limits { md += "| \(f.name) | \(f.display) | \(f.notes ?? "") |\n" }

        var sections: [String] = []
        for f in r.figures where !sections.contains(f.section) { sections.append(f.section) }
        for section in sections {
            md += "\n## \(section)\n\n| Figure | Value | Target | Result | Ratio to limit | Notes |\n|---|---|---|---|---|---|\n"
            for f in r.figures where f.section == section {
                let verdict = f.pass.map { $0 ? "pass" : "**MISS**" } ?? (f.error != nil ? "**error**" : "")
                let ratio = ratiosText(f.ratios)
                let notes = [f.notes, f.error.map { "error: \($0)" }].compactMap { $0 }.joined(separator: "; ")
                md += "| \(f.name) | \(f.display) | \(f.target ?? "") | \(verdict) | \(ratio) | \(cell(notes)) |\n"
            }
        }
        if !r.problems.isEmpty {
            md += "\n## Problems seen in this run\n\n"
            for p in r.problems { md += "- \(cell(p))\n" }
        }
        md += "\nRatios divide Baton's figure by the raw limit named beside it, measured above in the same run. "
        md += "SQLite batched rows: Baton operations/s × the rows each writes (SUBMIT 1; handshake 4; one-job workflow end to end 9; fan-out 2 per job: a workflow's first event has no row since schema v8, and since schema v9 a job has a row only for a retry, a failure, a cancel or a stop, its dispatch and success being its events) "
        md += "÷ SQLite rows/s at 1000 rows per commit; for broker CPU per job, the broker's µs per job ÷ the µs its 2 rows take there. "
        md += "Store path: SUBMIT/s ÷ the store's SUBMIT-shaped writes/s at 1000 per commit. "
        md += "ZeroMQ: Baton round trips/s (SUBMIT 1; handshake 2; end to end 3, counting JOB→RESULT) ÷ bare ZeroMQ round trips/s. "
        md += "Latency: Baton's p50 ÷ (single-row FULL commit p50 + ZeroMQ round trip p50).\n"
        return md
    }

    private func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

// MARK: Formatting

func grouped(_ v: Double) -> String {
    let n = Int(v.rounded())
    let s = String(abs(n))
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}

func rate(_ v: Double, _ unit: String = "/s") -> String { "\(grouped(v)) \(unit)" }

/// Microseconds, shown as µs below 10 ms and as ms above.
func us(_ v: Double) -> String {
    if v < 10_000 { return v < 100 ? String(format: "%.1f µs", v) : "\(grouped(v)) µs" }
    return String(format: "%.1f ms", v / 1000)
}

func mib(_ kb: Int) -> String { String(format: "%.1f MiB", Double(kb) / 1024) }

func ratiosText(_ rs: [Ratio]) -> String {
    rs.map { "\(ratioText($0.value)) of \($0.basis)" }.joined(separator: " · ")
}

func ratioText(_ r: Double) -> String { r >= 0.1 ? String(format: "%.2f", r) : String(format: "%.3f", r) }

func pct(_ v: Double) -> String { String(format: "%.0f%%", v * 100) }
