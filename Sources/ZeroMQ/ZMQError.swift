import CZeroMQ

/// A failed libzmq call, with the errno it left.
///
/// The errno is kept (not only its text) because callers act on it: `EAGAIN` means
/// "would block", `EINTR` "interrupted, retry", `ETERM` "context is shutting down",
/// `EHOSTUNREACH` "ROUTER peer unknown" when ROUTER_MANDATORY is set.
public struct ZMQError: Error, Equatable, CustomStringConvertible, Sendable {
    public let errno: Int32
    /// The libzmq function that failed, for the log line.
    public let call: String

    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    /// The error libzmq reports for the calling thread right now.
    static func last(_ call: String) -> ZMQError {
        ZMQError(errno: zmq_errno(), call: call)
    }

    public var isWouldBlock: Bool { errno == CZMQ_EAGAIN }
    public var isInterrupted: Bool { errno == CZMQ_EINTR }
    public var isTerminated: Bool { errno == CZMQ_ETERM }
    public var isHostUnreachable: Bool { errno == CZMQ_EHOSTUNREACH }

    public var description: String {
        "\(call): \(String(cString: zmq_strerror(errno))) (errno \(errno))"
    }
}

/// Runs a libzmq call that returns -1 on failure, retrying when a signal interrupted it.
///
/// Every libzmq call in this module goes through here, so EINTR handling and errno
/// capture live in one place. EAGAIN is thrown like any other errno; callers that use
/// ZMQ_DONTWAIT turn it into a value.
@inline(__always)
func checked(_ call: StaticString, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let err = zmq_errno()
        if err == CZMQ_EINTR { continue }
        throw ZMQError(errno: err, call: "\(call)")
    }
}
