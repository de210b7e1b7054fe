import BatonWire

/// Human `status`: the workflow with its times, each block, and its jobs named as in
/// the spec with attempt, duration, output and error (cut with an ellipsis).
///
/// A block of more than `summariseAbove` jobs is summarised unless `all`: its counts per
/// state, then the jobs that need a look (failed, cancelled, running, waiting), at most
/// `shownPerBlock` of them, and how many were left out.
enum StatusRenderer {
    static let summariseAbove = 20
    static let shownPerBlock = 10

    static func render(_ s: WorkflowStatus, all: Bool = false) -> String {
        var lines = [headline(s), times(s)]
        for (b, block) in s.blocks.enumerated() {
            let summarise = !all && block.jobs.count > summariseAbove
            lines.append("  block \(b): \(Style.state(block.state.rawValue)) (\(counts(block)))")
            var shown = 0
            var left = 0
            for (j, job) in block.jobs.enumerated() {
                if summarise && (job.state == .succeeded || shown >= shownPerBlock || (job.state == .pending && job.waitingFor == nil)) {
                    left += 1
                    continue
                }
                shown += 1
                lines.append("    " + jobLine(block: b, job: j, job))
            }
            if left > 0 { lines.append("    … \(left) job(s) not shown (`baton status \(s.id) --all` shows every job)") }
        }
        return lines.joined(separator: "\n")
    }

    private static func headline(_ s: WorkflowStatus) -> String {
        "workflow \(s.id) \"\(s.name)\": \(Style.state(s.state.rawValue))"
            + (s.reason.map { " (\(Style.cut($0, 200)))" } ?? "") + (s.owner.map { ", owner \($0)" } ?? "")
    }

    private static func times(_ s: WorkflowStatus) -> String {
        var t = "  submitted \(Style.time(s.submittedAt))"
        if let started = s.startedAt { t += ", started \(Style.time(started))" }
        if let finished = s.finishedAt {
            t += ", finished \(Style.time(finished))"
            if let started = s.startedAt { t += " (ran \(Style.duration(ms: finished - started)))" }
        }
        return t
    }

    /// "3 jobs: 2 SUCCEEDED, 1 RUNNING", states in their lifecycle order.
    static func counts(_ block: WorkflowStatus.Block) -> String {
        var byState: [JobState: Int] = [:]
        for j in block.jobs { byState[j.state, default: 0] += 1 }
        let parts = JobState.allCases.compactMap { st in byState[st].map { "\($0) \(st.rawValue)" } }
        return "\(block.jobs.count) job(s): " + parts.joined(separator: ", ")
    }

    static func jobLine(block b: Int, job j: Int, _ job: WorkflowStatus.Job) -> String {
        // The type gets its own column when the label shows the name instead.
        var l = jobLabel(block: b, job: j, name: job.name, type: job.type) + (job.name == nil ? "" : "  \(job.type)")
        l += "  \(Style.state(job.state.rawValue))"
        if job.attempt > 0 { l += "  attempt \(job.attempt)" }
        if let started = job.startedAt {
            if let finished = job.finishedAt {
                l += "  \(Style.duration(ms: finished - started))"
            } else {
                l += "  since \(Style.time(started))"
            }
        }
        if let w = job.waitingFor { l += "  (waiting: \(Style.cut(w, 200)))" }
        if let p = job.progress {
            l += "  progress: \(Style.cut(JSONWriter.string(p), 120))" + (job.progressAt.map { " at \(Style.time($0))" } ?? "")
        }
        if let e = job.error { l += "  error: \(Style.cut(e, 200))" }
        if let o = job.output { l += "  output: \(Style.cut(JSONWriter.string(o), 120))" }
        return l
    }
}
