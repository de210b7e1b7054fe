import BatonClient
import BatonWire
import Foundation

/// Follows a workflow's events with WATCH long-polls, printing progress, until the
/// workflow is final; then prints its STATUS summary. Resumable: it only needs the
/// last sequence number it printed.
struct Follower {
    let client: BatonClient
    let id: String

    func follow(after start: Int64) throws -> WorkflowStatus {
        var after = start
        var total = 0
        // Succeeded job ids: a set, because the events replayed from `start` may repeat
        // successes the STATUS snapshot already shows.
        var done = Set<String>()
        if let s = try? client.status(id) {
            total = s.jobCount
            for b in s.blocks { for j in b.jobs where j.state == .succeeded { done.insert(j.jobId) } }
        }
        while true {
            let page = try client.watch(id, after: after, waitMs: 1000)
            for e in page.events {
                after = e.seq
                if e.kind == .jobSucceeded, let job = e.fields["job_id"]?.stringValue { done.insert(job) }
                print(StatusPrinter.line(e, done: done.count, total: total))
            }
            if page.events.isEmpty && page.state.isFinal { break }
        }
        let status = try client.status(id)
        print(StatusPrinter.render(status))
        return status
    }
}

enum StatusPrinter {
    static func line(_ e: WorkflowEvent, done: Int, total: Int) -> String {
        let time = String(Timestamp.format(ms: e.at).dropFirst(11).dropLast())
        let f = e.fields
        let job = f["job_id"]?.stringValue.map { " \($0.split(separator: ".").suffix(2).joined(separator: "."))" } ?? ""
        var detail = ""
        if let a = f["attempt"]?.intValue { detail += " attempt \(a)" }
        if let w = f["worker"]?.stringValue { detail += " on \(w)" }
        if let err = f["error"]?.stringValue { detail += ": \(err)" }
        if let r = f["reason"]?.stringValue { detail += ": \(r)" }
        if let b = f["block"]?.intValue, job.isEmpty { detail += " \(b)" }
        return "\(time) \(bar(done, total)) \(e.kind.rawValue)\(job)\(detail)"
    }

    static func bar(_ done: Int, _ total: Int) -> String {
        guard total > 0 else { return "" }
        let width = 20
        let filled = min(width, done * width / total)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)"
    }

    static func render(_ s: WorkflowStatus) -> String {
        var lines = ["workflow \(s.id) \"\(s.name)\": \(s.state.rawValue)" + (s.reason.map { " (\($0))" } ?? "")]
        for (b, block) in s.blocks.enumerated() {
            lines.append("  block \(b): \(block.state.rawValue)")
            for j in block.jobs {
                var l = "    \(j.jobId.split(separator: ".").suffix(2).joined(separator: ".")) \(j.type) \(j.state.rawValue)"
                if j.attempt > 0 { l += " attempt \(j.attempt)" }
                if let e = j.error { l += " error: \(e)" }
                if let o = j.output { l += " output: \(JSONWriter.string(o).prefix(120))" }
                lines.append(l)
            }
        }
        return lines.joined(separator: "\n")
    }
}
