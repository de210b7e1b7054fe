import BatonWire

/// The progress of one followed workflow, for the bar in front of each event line.
struct ProgressLines {
    var total = 0
    /// Succeeded job ids: a set, because the events replayed from the start repeat
    /// successes the snapshot already shows.
    var done = Set<String>()

    /// Starts from a STATUS snapshot taken before the events are read.
    init(snapshot: WorkflowStatus?) {
        guard let s = snapshot else { return }
        total = s.jobCount
        for b in s.blocks { for j in b.jobs where j.state == .succeeded { done.insert(j.jobId) } }
    }

    /// Counts the event in, and returns the line to print for it.
    mutating func line(_ e: WorkflowEvent) -> String {
        if e.kind == .jobSucceeded, let job = e.fields["job_id"]?.stringValue { done.insert(job) }
        return StatusPrinter.line(e, done: done.count, total: total)
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
        var lines = ["workflow \(s.id) \"\(s.name)\": \(s.state.rawValue)" + (s.reason.map { " (\($0))" } ?? "")
                     + (s.owner.map { ", owner \($0)" } ?? "")]
        for (b, block) in s.blocks.enumerated() {
            lines.append("  block \(b): \(block.state.rawValue)")
            for j in block.jobs {
                var l = "    \(j.jobId.split(separator: ".").suffix(2).joined(separator: ".")) \(j.type) \(j.state.rawValue)"
                if j.attempt > 0 { l += " attempt \(j.attempt)" }
                if let w = j.waitingFor { l += " (waiting: \(w))" }
                if let e = j.error { l += " error: \(e)" }
                if let o = j.output { l += " output: \(JSONWriter.string(o).prefix(120))" }
                lines.append(l)
            }
        }
        return lines.joined(separator: "\n")
    }
}
