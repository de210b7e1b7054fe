import BatonWire
import Synchronization

/// What a job handler gets: the job, and a way to see whether the broker cancelled it.
public struct JobContext: Sendable {
    public let jobId: String
    public let workflowId: String
    public let attempt: Int
    public let type: String
    public let args: [String: JSONValue]
    public let timeoutMs: Int64
    /// 0: none. Otherwise the broker loses the attempt after this long without a
    /// `progress` call: long handlers call it at least every third of it.
    public let heartbeatTimeoutMs: Int64
    let cancellation: CancellationFlag
    let report: @Sendable (JSONValue?) -> Void

    init(jobId: String, workflowId: String, attempt: Int, type: String, args: [String: JSONValue], timeoutMs: Int64,
         heartbeatTimeoutMs: Int64 = 0, cancellation: CancellationFlag, report: @escaping @Sendable (JSONValue?) -> Void = { _ in }) {
        self.jobId = jobId
        self.workflowId = workflowId
        self.attempt = attempt
        self.type = type
        self.args = args
        self.timeoutMs = timeoutMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
        self.cancellation = cancellation
        self.report = report
    }

    /// Sends PROGRESS for this attempt: a sign of life (its `heartbeat_timeout_ms`) and
    /// `details` for people (STATUS, `job.progress` events). Cheap; any thread.
    public func progress(_ details: JSONValue? = nil) {
        report(details)
    }

    /// True once the broker sent CANCEL for this attempt (timeout, workflow ended), or the
    /// worker gave the attempt up (stop, reconnect). Long handlers should check it and stop
    /// early; their result is ignored anyway.
    public var isCancelled: Bool { cancellation.isSet }
}

/// A handler's failure. `retryable: false` fails the job at once, whatever attempts remain.
public struct JobFailure: Error, Sendable {
    public var message: String
    public var retryable: Bool

    public init(_ message: String, retryable: Bool = true) {
        self.message = message
        self.retryable = retryable
    }
}

/// Runs one job; returns its output (any JSON) or throws. Handlers run on their own
/// threads, at most `capacity` at once, and must be idempotent: a job is delivered at
/// least once, so a second run must find the work done and change nothing.
public typealias JobHandler = @Sendable (JobContext) throws -> JSONValue?

/// A flag that is set once and never cleared, with callbacks for whoever must act at
/// the moment it is set (the `shell` job cancels its subprocess task there instead of
/// polling).
final class CancellationFlag: Sendable {
    private struct State {
        var isSet = false
        var onFire: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    var isSet: Bool { state.withLock { $0.isSet } }

    /// Sets the flag and runs the callbacks registered so far, once, on the calling
    /// thread and outside the lock (a callback may read the flag). Later calls do nothing.
    func fire() {
        let callbacks = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.isSet else { return [] }
            state.isSet = true
            defer { state.onFire = [] }
            return state.onFire
        }
        for callback in callbacks { callback() }
    }

    /// Runs `callback` once when the flag is set: at once, on this thread, if it already is.
    func whenFired(_ callback: @escaping @Sendable () -> Void) {
        let alreadySet = state.withLock { state -> Bool in
            if !state.isSet { state.onFire.append(callback) }
            return state.isSet
        }
        if alreadySet { callback() }
    }
}
