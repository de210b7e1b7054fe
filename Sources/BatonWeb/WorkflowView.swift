import BatonClient
import BatonWire

/// What the page of one workflow shows, read from the broker in one go on a pool thread:
/// the workflow's fields and block states, one window of its jobs (STATUS pages from
/// `from`, so a 10,000-job workflow is read a window at a time, never whole), and the
/// attempts and recent events from its event log.
struct WorkflowView: Sendable {
    struct PlacedJob: Sendable {
        /// Position over the workflow's jobs in spec order (what `jobs_from` counts).
        var index: Int
        var block: Int
        var job: Int
        var value: WorkflowStatus.Job
    }

    var status: WorkflowStatus
    var jobs: [PlacedJob]
    var from: Int
    /// The `from` of the next window, when jobs follow.
    var next: Int?
    var attempts: AttemptLog
    var recentEvents: [WorkflowEvent]

    /// Jobs per window, and how much of the event log a page reads at most (500 events a
    /// WATCH reply); past it, attempt histories say they are partial.
    static let windowSize = 100
    static let maxEventPages = 20
    static let recentEventCount = 30

    /// Reads the window of `windowSize` jobs from `from`, and the event log.
    static func read(_ id: String, from: Int, client: BatonClient) throws -> WorkflowView {
        var cursor = from
        var jobs: [PlacedJob] = []
        var last: BatonClient.StatusPage
        repeat {
            last = try client.statusPage(id, jobsFrom: cursor)
            var index = cursor
            for (b, block) in last.status.blocks.enumerated() {
                for job in block.jobs {
                    let place = jobPlace(job.jobId)
                    jobs.append(PlacedJob(index: index, block: place?.block ?? b, job: place?.job ?? 0, value: job))
                    index += 1
                }
            }
            guard let n = last.next, n > cursor else { break }
            cursor = n
        } while jobs.count < windowSize
        let shown = Array(jobs.prefix(windowSize))
        let next = jobs.count > windowSize ? from + windowSize : last.next.flatMap { $0 > from ? $0 : nil }
        let (log, recent) = try readEvents(id, client: client)
        return WorkflowView(status: last.status, jobs: shown, from: from, next: next, attempts: log, recentEvents: recent)
    }

    /// The event log from the start, at most `maxEventPages` WATCH replies, without waiting.
    static func readEvents(_ id: String, client: BatonClient) throws -> (AttemptLog, [WorkflowEvent]) {
        var log = AttemptLog()
        var recent: [WorkflowEvent] = []
        var after: Int64 = 0
        for _ in 0..<maxEventPages {
            let page = try client.watch(id, after: after, waitMs: 0)
            guard let lastEvent = page.events.last else { return (log, recent) }
            for e in page.events { log.add(e) }
            recent = Array((recent + page.events).suffix(recentEventCount))
            after = lastEvent.seq
        }
        log.complete = false
        return (log, recent)
    }

    /// (block, job) of a job id `WORKFLOW.BLOCK.JOB`.
    static func jobPlace(_ jobId: String) -> (block: Int, job: Int)? {
        let parts = jobId.split(separator: ".")
        guard parts.count >= 3, let b = Int(parts[parts.count - 2]), let j = Int(parts[parts.count - 1]) else { return nil }
        return (b, j)
    }
}
