import CZeroMQ

/// What to wait on in `poll`: a socket, or a plain file descriptor (a wake-up pipe).
public enum PollTarget {
    case socket(Socket)
    case fd(Int32)
}

/// A blocking wait on several sockets, over `zmq_poll`.
///
/// Must run on a thread of its own (never a Swift concurrency pool thread): it blocks
/// for up to the timeout. Note libzmq's unit: "zmq_poll ... timeout ... in milliseconds"
/// (it was microseconds before libzmq 3).
public struct Poller {
    private var items: [zmq_pollitem_t]
    private var keep: [Socket] = []

    public init(_ targets: [PollTarget]) throws(ZMQError) {
        var items: [zmq_pollitem_t] = []
        for target in targets {
            var item = zmq_pollitem_t()
            switch target {
            case .socket(let s):
                item.socket = try s.live
                keep.append(s)
            case .fd(let fd):
                item.fd = fd
            }
            item.events = Int16(ZMQ_POLLIN)
            items.append(item)
        }
        self.items = items
    }

    /// Waits until an item is readable or `timeoutMs` passes (-1: forever). Returns the
    /// readable flags by item index. An interrupted wait returns with nothing readable.
    public mutating func poll(timeoutMs: Int) throws(ZMQError) -> [Bool] {
        // The items hold raw handles: polling a socket closed since would use freed memory.
        for s in keep where s.handle == nil { throw ZMQError(errno: ENOTSOCK, call: "zmq_poll on a closed socket") }
        let count = Int32(items.count)
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, count, timeoutMs) }
        if rc < 0 {
            let err = zmq_errno()
            if err == CZMQ_EINTR { return Array(repeating: false, count: items.count) }
            throw ZMQError(errno: err, call: "zmq_poll")
        }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
