/// Workflow states. SUBMITTED is the only state a workflow is created in; the final
/// ones (`isFinal`) never change again. STOPPED is not final: an emergency stop parks a
/// RUNNING workflow there, and EXEC continues it once the stop is lifted.
///
///     SUBMITTED --EXEC--> RUNNING --> SUCCEEDED | FAILED | CANCELLED
///     SUBMITTED --TTL---> EXPIRED
///     SUBMITTED --CANCEL-> CANCELLED
///     RUNNING --STOP--> STOPPED --EXEC--> RUNNING;  STOPPED --CANCEL--> CANCELLED
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
        case .submitted, .running, .stopped: false
        case .succeeded, .failed, .cancelled, .expired: true
        }
    }

    /// Whether nothing more happens to the workflow unless a client acts: final, or
    /// STOPPED (waiting for its stop to be lifted and an EXEC). A client following a
    /// workflow stops following there.
    public var isSettled: Bool { isFinal || self == .stopped }
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
