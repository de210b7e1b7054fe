import BatonWire
import Foundation

/// What a job handler gets: the job, and a way to see whether the broker cancelled it.
public struct JobContext: Sendable {
    public let jobId: String
    public let workflowId: String
    public let attempt: Int
    public let type: String
    public let args: [String: JSONValue]
    public let timeoutMs: Int64
    let cancellation: CancellationFlag

    /// True once the broker sent CANCEL for this attempt (timeout, workflow ended).
    /// Long handlers should check it and stop early; their result is ignored anyway.
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

/// A thread-safe flag.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false

    var isSet: Bool { lock.withLock { set } }
    func fire() { lock.withLock { set = true } }
}
