import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Socket {
    /// Sends all frames as one multipart message, like `send(_:dontWait:)`, and calls
    /// `released` exactly once when libzmq no longer holds the message: after its last
    /// frame was written to the connection, or dropped with it (the peer went, the socket
    /// closed), or at once when the message was not queued (false or a throw).
    ///
    /// This is the only way to learn how much of what was sent still sits in a peer's
    /// queue: libzmq counts its queues in messages (`ZMQ_SNDHWM`), not bytes. The last
    /// frame is handed over with `zmq_msg_init_data`, whose free function libzmq calls
    /// "once the data buffer is no longer required by 0MQ" and which "needs to be
    /// thread-safe, since it will be called from an arbitrary thread" (zmq_msg_init_data(3)):
    /// `released` runs on a libzmq I/O thread, so it must be quick and thread-safe. The
    /// frames before the last are copied as usual; they leave the queue together with it.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false,
                     released: @escaping @Sendable () -> Void) throws(ZMQError) -> Bool {
        var handedOver = false
        defer { if !handedOver { released() } }
        guard let last = frames.last else { return true }
        if frames.count > 1 {
            guard try send(frames, upTo: frames.count - 1, dontWait: dontWait) else { return false }
        }
        let h = try live
        var msg = zmq_msg_t()
        let data = malloc(max(last.count, 1))!
        last.withUnsafeBytes { if let base = $0.baseAddress { data.copyMemory(from: base, byteCount: $0.count) } }
        let hint = Unmanaged.passRetained(ReleaseHook(released)).toOpaque()
        // Only fails with ENOMEM (a malloc inside libzmq); the hook then never runs.
        guard zmq_msg_init_data(&msg, data, last.count, { data, hint in
            free(data)
            if let hint { Unmanaged<ReleaseHook>.fromOpaque(hint).takeRetainedValue().run() }
        }, hint) == 0 else {
            free(data)
            Unmanaged<ReleaseHook>.fromOpaque(hint).release()
            throw ZMQError.last("zmq_msg_init_data")
        }
        // From here the hook runs when the message is closed, by us or by libzmq.
        handedOver = true
        do {
            _ = try checked("zmq_msg_send") { zmq_msg_send(&msg, h, dontWait ? ZMQ_DONTWAIT : 0) }
        } catch {
            zmq_msg_close(&msg)
            // EAGAIN only on a first frame: multipart messages are queued atomically.
            if error.isWouldBlock && frames.count == 1 { return false }
            throw error
        }
        return true
    }

    /// Sends `frames[..<end]` with MORE set on each (the caller sends the rest itself),
    /// read in place: a copy of the array without its last frame cost ~900 instructions
    /// per reply (`scripts/profile`).
    private func send(_ frames: [[UInt8]], upTo end: Int, dontWait: Bool) throws(ZMQError) -> Bool {
        let h = try live
        let flags = (dontWait ? ZMQ_DONTWAIT : 0) | ZMQ_SNDMORE
        for index in 0..<end {
            do {
                _ = try checked("zmq_send") {
                    frames[index].withUnsafeBytes { zmq_send(h, $0.baseAddress, $0.count, flags) }
                }
            } catch {
                if error.isWouldBlock && index == 0 { return false }
                throw error
            }
        }
        return true
    }
}

/// Carries `released` through libzmq's `void *hint` to its free function.
private final class ReleaseHook {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
