import CZeroMQ

/// A libzmq socket.
///
/// Not `Sendable`: a socket belongs to the thread that uses it (libzmq sockets are not
/// thread-safe). It retains its `Context` so the context cannot be terminated under it.
/// `close()` is idempotent; `deinit` closes a socket that was not closed explicitly.
public final class Socket {
    public let context: Context
    public let type: SocketType
    private(set) var handle: UnsafeMutableRawPointer?

    init(context: Context, type: SocketType) throws(ZMQError) {
        guard let s = zmq_socket(context.handle, type.raw) else {
            throw ZMQError.last("zmq_socket")
        }
        self.context = context
        self.type = type
        self.handle = s
    }

    deinit { close() }

    /// Closes the socket. Callers set LINGER first when pending messages must not delay
    /// the context's termination; `close(linger:)` does both.
    public func close() {
        guard let h = handle else { return }
        _ = zmq_close(h)
        handle = nil
    }

    /// Sets LINGER, then closes.
    public func close(linger milliseconds: Int32) {
        if handle != nil { try? setOption(ZMQ_LINGER, milliseconds) }
        close()
    }

    var live: UnsafeMutableRawPointer {
        get throws(ZMQError) {
            guard let h = handle else { throw ZMQError(errno: ENOTSOCK, call: "closed socket") }
            return h
        }
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        let h = try live
        _ = try checked("zmq_bind") { zmq_bind(h, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        let h = try live
        _ = try checked("zmq_connect") { zmq_connect(h, endpoint) }
    }

    /// The endpoint the socket last bound to, with the port a `*` wildcard resolved to.
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 256)
            var size = buffer.count
            let h = try live
            _ = try checked("zmq_getsockopt") { zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size) }
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: Sending

    /// Sends all frames as one multipart message.
    ///
    /// Returns false when `dontWait` is set and the message could not be queued (EAGAIN:
    /// high-water mark reached, or no peer). libzmq queues multipart messages atomically:
    /// once the first frame is accepted the rest cannot fail with EAGAIN.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        let h = try live
        let base: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        if frames.isEmpty { return true }
        for (index, frame) in frames.enumerated() {
            let flags = index < frames.count - 1 ? base | ZMQ_SNDMORE : base
            do {
                _ = try checked("zmq_send") {
                    frame.withUnsafeBytes { zmq_send(h, $0.baseAddress, $0.count, flags) }
                }
            } catch {
                if error.isWouldBlock && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    // MARK: Receiving

    /// Receives one whole multipart message, or nil when `dontWait` is set and none is
    /// waiting.
    ///
    /// Each frame is copied out of its `zmq_msg_t` and the MORE flag is read before the
    /// message is closed (reading it after `zmq_msg_close` is undefined).
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        try receive(dontWait: dontWait, userId: false)?.frames
    }

    /// Receives one whole multipart message with the `User-Id` its connection's ZAP
    /// handler gave (nil when no handler authenticated the connection). A ROUTER makes
    /// the routing-id frame itself, without the connection's metadata, so the property
    /// is read from the first frame that has it.
    public func receive(dontWait: Bool = false, userId wanted: Bool) throws(ZMQError) -> (frames: [[UInt8]], userId: String?)? {
        let h = try live
        var userId: String?
        var frames: [[UInt8]] = []
        var msg = zmq_msg_t()
        var more = true
        while more {
            zmq_msg_init(&msg)
            let flags: Int32 = (dontWait && frames.isEmpty) ? ZMQ_DONTWAIT : 0
            do {
                _ = try checked("zmq_msg_recv") { zmq_msg_recv(&msg, h, flags) }
            } catch {
                zmq_msg_close(&msg)
                if error.isWouldBlock && frames.isEmpty { return nil }
                throw error
            }
            // Room for a whole message on its first frame: a client request is five
            // frames, a worker message four, and growing the array 1, 2, 4, 8 cost three
            // allocations and copies per message in `scripts/profile`. Reserved only once
            // a frame came, so a would-block poll allocates nothing.
            if frames.isEmpty { frames.reserveCapacity(Self.framesReserved) }
            frames.append(Self.bytes(of: &msg))
            if wanted, userId == nil, let property = zmq_msg_gets(&msg, "User-Id") {
                userId = String(cString: property)
            }
            more = zmq_msg_more(&msg) != 0
            zmq_msg_close(&msg)
        }
        return (frames, userId)
    }

    /// Frames reserved for a message as its first frame arrives (see `receive`).
    static let framesReserved = 8

    /// `receive(dontWait:userId:)` into `frames`, reusing the storage of the arrays it
    /// holds: frame i of this message is copied into `frames[i]`'s buffer when that
    /// buffer is no longer shared and has room, and `frames` is left holding exactly
    /// this message's frames. False (and `frames` untouched) when nothing is waiting.
    ///
    /// Why: the event loop reads thousands of messages a second, and each frame copied
    /// into an array of its own was an allocation and a free (five per client request,
    /// four per worker message: ~2,500 instructions per one-job workflow in
    /// `scripts/profile`). A frame the caller kept (a peer's id, a reply's tag) is
    /// shared, so it gets a new buffer as before and the kept one is not touched.
    public func receive(into frames: inout [[UInt8]], dontWait: Bool = false,
                        userId wanted: Bool) throws(ZMQError) -> (received: Bool, userId: String?) {
        let h = try live
        var userId: String?
        var n = 0
        var msg = zmq_msg_t()
        var more = true
        while more {
            zmq_msg_init(&msg)
            let flags: Int32 = (dontWait && n == 0) ? ZMQ_DONTWAIT : 0
            do {
                _ = try checked("zmq_msg_recv") { zmq_msg_recv(&msg, h, flags) }
            } catch {
                zmq_msg_close(&msg)
                if error.isWouldBlock && n == 0 { return (false, nil) }
                throw error
            }
            if n < frames.count {
                Self.copy(&msg, into: &frames[n])
            } else {
                if n == 0 { frames.reserveCapacity(Self.framesReserved) }
                frames.append(Self.bytes(of: &msg))
            }
            n += 1
            if wanted, userId == nil, let property = zmq_msg_gets(&msg, "User-Id") {
                userId = String(cString: property)
            }
            more = zmq_msg_more(&msg) != 0
            zmq_msg_close(&msg)
        }
        if frames.count > n { frames.removeLast(frames.count - n) }
        return (true, userId)
    }

    /// A frame's buffer larger than this is not reused: the next message's frame at its
    /// place gets a buffer of its own size, so the scratch array holds a big body only
    /// until the next message, never the largest one ever read.
    static let keptFrameBytes = 64 * 1024

    /// A received frame's bytes into `frame`, in its own buffer when it can be reused.
    private static func copy(_ msg: inout zmq_msg_t, into frame: inout [UInt8]) {
        let size = zmq_msg_size(&msg)
        guard size > 0, let data = zmq_msg_data(&msg) else {
            frame = []
            return
        }
        if frame.capacity > keptFrameBytes {
            frame = bytes(of: &msg)
            return
        }
        frame.removeAll(keepingCapacity: true)
        frame.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size))
    }

    /// A copy of a received frame's bytes. (`[UInt8](repeating:count:)` and
    /// `Array(unsafeUninitializedCapacity:)` were dearer here in `scripts/profile`: their
    /// buffer allocation was not specialized and looked generic metadata up per frame.)
    private static func bytes(of msg: inout zmq_msg_t) -> [UInt8] {
        let size = zmq_msg_size(&msg)
        guard size > 0, let data = zmq_msg_data(&msg) else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: size))
    }

    /// Whether a message can be read right now without blocking.
    public var hasInput: Bool {
        get throws(ZMQError) {
            let events: Int32 = try option(ZMQ_EVENTS)
            return events & Int32(ZMQ_POLLIN) != 0
        }
    }
}
