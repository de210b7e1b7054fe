import CZeroMQ

/// A libzmq context. Thread-safe by libzmq's contract, so it is `Sendable`.
///
/// Invariant: every socket retains its context, so the context is terminated only after
/// the last socket is closed (`zmq_ctx_term` blocks while sockets are open).
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init(ioThreads: Int32 = 1) throws(ZMQError) {
        guard let ctx = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = ctx
        _ = zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        // Blocky shutdown would hang zmq_ctx_term on sockets with linger -1; sockets here
        // always set linger explicitly, this is a second guard.
        _ = zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == CZMQ_EINTR {}
    }

    /// A new socket of `type`, owned by the calling thread.
    public func socket(_ type: SocketType) throws(ZMQError) -> Socket {
        try Socket(context: self, type: type)
    }

    /// libzmq's version as (major, minor, patch).
    public static var libraryVersion: (Int32, Int32, Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }
}
