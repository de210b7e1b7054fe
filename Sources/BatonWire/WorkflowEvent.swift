/// One entry in a workflow's event log. `seq` starts at 1 per workflow and has no gaps,
/// so a watcher that remembers the last `seq` it saw misses nothing.
public struct WorkflowEvent: Equatable, Sendable {
    public var seq: Int64
    public var at: Int64
    public var kind: EventKind
    /// The fields this kind carries (block, job_id, attempt, error, reason...).
    public var fields: [String: JSONValue]

    public init(seq: Int64, at: Int64, kind: EventKind, fields: [String: JSONValue] = [:]) {
        self.seq = seq
        self.at = at
        self.kind = kind
        self.fields = fields
    }

    public var json: JSONValue {
        var o = fields
        o["seq"] = .int(seq)
        o["at"] = .string(Timestamp.format(ms: at))
        o["kind"] = .string(kind.rawValue)
        return .object(o)
    }

    public init(json o: [String: JSONValue]) throws(WireError) {
        seq = try Field.optionalInt(o, "seq", range: 1...Int64.max) ?? 0
        at = try timeField(o, "at") ?? 0
        kind = try enumField(o, "kind")
        var f = o
        f["seq"] = nil
        f["at"] = nil
        f["kind"] = nil
        fields = f
    }
}

/// Event kinds, dotted `subject.verb`.
public enum EventKind: String, Sendable, CaseIterable {
    /// Stored by SUBMIT. Fields: name.
    case workflowSubmitted = "workflow.submitted"
    /// EXEC started it.
    case workflowRunning = "workflow.running"
    /// Every job succeeded.
    case workflowSucceeded = "workflow.succeeded"
    /// A job failed for good. Fields: reason.
    case workflowFailed = "workflow.failed"
    /// CANCEL ended it. Fields: reason.
    case workflowCancelled = "workflow.cancelled"
    /// Never EXEC'd within the TTL. Fields: reason.
    case workflowExpired = "workflow.expired"
    /// An emergency stop covered it while RUNNING. Fields: reason.
    case workflowStopped = "workflow.stopped"
    /// A block's jobs may start. Fields: block.
    case blockStarted = "block.started"
    /// Every job of the block succeeded. Fields: block.
    case blockSucceeded = "block.succeeded"
    /// A job was sent to a worker. Fields: block, job, job_id, attempt, worker.
    case jobDispatched = "job.dispatched"
    /// Fields: block, job, job_id, attempt.
    case jobSucceeded = "job.succeeded"
    /// An attempt failed and another will follow. Fields: block, job, job_id, attempt, error, retry_at.
    case jobRetrying = "job.retrying"
    /// The job failed for good. Fields: block, job, job_id, attempt, error.
    case jobFailed = "job.failed"
    /// The job was cancelled with its workflow. Fields: block, job, job_id, attempt.
    case jobCancelled = "job.cancelled"
    /// An emergency stop ended its running attempt; PENDING again. Fields: block, job, job_id, attempt.
    case jobStopped = "job.stopped"
    /// A running attempt reported PROGRESS (at most one event per attempt every
    /// `progressEventEveryMs`). Fields: block, job, job_id, attempt, details?.
    case jobProgress = "job.progress"

    /// The kind as a JSON string, quotes included, for the byte writers: a literal
    /// appended at once, where `JSONWriter.writeString(rawValue)` scanned it for escapes
    /// each time (~280 instructions; every event is written when stored and when sent).
    public var quotedJSON: StaticString {
        switch self {
        case .workflowSubmitted: #""workflow.submitted""#
        case .workflowRunning: #""workflow.running""#
        case .workflowSucceeded: #""workflow.succeeded""#
        case .workflowFailed: #""workflow.failed""#
        case .workflowCancelled: #""workflow.cancelled""#
        case .workflowExpired: #""workflow.expired""#
        case .workflowStopped: #""workflow.stopped""#
        case .blockStarted: #""block.started""#
        case .blockSucceeded: #""block.succeeded""#
        case .jobDispatched: #""job.dispatched""#
        case .jobSucceeded: #""job.succeeded""#
        case .jobRetrying: #""job.retrying""#
        case .jobFailed: #""job.failed""#
        case .jobCancelled: #""job.cancelled""#
        case .jobStopped: #""job.stopped""#
        case .jobProgress: #""job.progress""#
        }
    }
}
