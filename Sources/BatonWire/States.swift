/// Workflow states. SUBMITTED is the only state a workflow is created in; the four
/// on the right of `isFinal` never change again.
///
///     SUBMITTED --EXEC--> RUNNING --> SUCCEEDED | FAILED | CANCELLED | STOPPED
///     SUBMITTED --TTL---> EXPIRED
///     SUBMITTED --CANCEL-> CANCELLED
public enum WorkflowState: String, Sendable, CaseIterable {
    case submitted = "SUBMITTED"
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"
    case stopped = "STOPPED"
    case expired = "EXPIRED"

    public var isFinal: Bool {
        switch self {
        case .submitted, .running: false
        case .succeeded, .failed, .cancelled, .stopped, .expired: true
        }
    }
}

/// Job states. A job waiting for its first dispatch or for a retry is PENDING; its
/// `attempt` tells which.
public enum JobState: String, Sendable, CaseIterable {
    case pending = "PENDING"
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"

    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// Block states, derived from the block's jobs and the workflow's progress.
public enum BlockState: String, Sendable, CaseIterable {
    case pending = "PENDING"
    case running = "RUNNING"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case cancelled = "CANCELLED"
}
