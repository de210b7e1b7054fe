import BatonKeys
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// The keys in force, shared by the ZAP handler's thread (which admits connections) and
/// the loop (which checks every request's key, so a key removed by a reload stops being
/// served on connections it already has). A reload swaps the whole ring at once.
final class KeyRingBox: Sendable {
    private let ring: Mutex<KeyRing>

    init(_ ring: KeyRing) { self.ring = Mutex(ring) }

    var current: KeyRing { ring.withLock { $0 } }

    func replace(with new: KeyRing) { ring.withLock { $0 = new } }
}

/// The broker's ZAP handler (ZeroMQ RFC 27): a REP socket on `inproc://zeromq.zap.01`
/// of the broker's context, on a thread of its own. libzmq asks it about every CURVE
/// handshake on both endpoints; it answers 200 with the key (Z85) as User-Id when the
/// key's roles admit it to that endpoint (told apart by ZAP domain), 400 otherwise.
///
/// Why a thread: libzmq waits for the answer inside the handshake, in its I/O thread;
/// answering on the loop's thread would make every handshake wait for a turn, and a
/// slow turn stall every connecting peer. Here a handshake waits only for a dictionary
/// lookup, and the loop never waits for a handshake.
///
/// Invariant: bound before the endpoints bind, and open until they are closed. libzmq
/// lets a CURVE handshake through when no handler is bound, so a handler that came too
/// late or left too early would admit every key.
final class ZAPHandler: Sendable {
    static let endpoint = "inproc://zeromq.zap.01"

    private let keys: KeyRingBox
    private let logger: Logger
    private let stopPipe: WakePipe
    private let finished = Mutex(false)
    private let done = DispatchSemaphore(value: 0)

    /// Binds the handler's socket on `context` and starts answering; throws when the
    /// socket cannot be bound (another handler holds the endpoint).
    init(context: Context, keys: KeyRingBox, logger: Logger) throws {
        self.keys = keys
        self.logger = logger
        stopPipe = try WakePipe()
        let bound = Mutex<Result<Void, ZMQError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            // The socket is made, used and closed on this thread only (libzmq sockets
            // are not thread-safe).
            let socket: Socket
            do throws(ZMQError) {
                socket = try context.socket(.rep)
                try socket.setLinger(0)
                try socket.bind(Self.endpoint)
            } catch {
                bound.withLock { $0 = .failure(error) }
                ready.signal()
                done.signal()
                return
            }
            bound.withLock { $0 = .success(()) }
            ready.signal()
            serve(socket)
            socket.close(linger: 0)
            done.signal()
        }
        thread.name = "baton-zap"
        thread.start()
        ready.wait()
        if case .failure(let error) = bound.withLock({ $0 }) { throw error }
    }

    /// Stops answering and closes the socket; call after the endpoints are closed.
    func stop() {
        let first = finished.withLock { f in
            defer { f = true }
            return !f
        }
        guard first else { return }
        stopPipe.signal()
        done.wait()
    }

    private func serve(_ socket: Socket) {
        var refusals = LogThrottle()
        do {
            var poller = try Poller([.socket(socket), .fd(stopPipe.readFd)])
            while true {
                let ready = try poller.poll(timeoutMs: -1)
                if ready[1] { return }
                guard ready[0], let request = try socket.receive(dontWait: true) else { continue }
                let (reply, refusal) = answer(request)
                try socket.send(reply)
                if let refusal, case .log(let line, let suppressed) = refusals.admit(refusal, isError: false, now: .now) {
                    if suppressed > 0 { logger.warning("zap: \(suppressed) refusal line(s) suppressed") }
                    logger.warning("\(line)")
                }
            }
        } catch {
            // Without its handler libzmq would admit every key: a broker that cannot
            // check keys must not go on serving.
            logger.critical("zap: the key check failed (\(error)); stopping the broker")
            exit(70)
        }
    }

    /// The reply to one ZAP request, and a log line when it refuses.
    ///
    /// Request frames (RFC 27): version "1.0", request id, domain, address, routing id,
    /// mechanism, then the mechanism's credentials (CURVE: the client's 32-byte public
    /// key). Reply: version, request id, status code, status text, user id, metadata.
    func answer(_ frames: [[UInt8]]) -> (reply: [[UInt8]], refusal: String?) {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
            // Not a ZAP 1.0 request: libzmq never sends one; answer in the form it reads.
            return (Self.reply(frames.count > 1 ? frames[1] : [], "500", "bad ZAP request", userId: ""), "zap: malformed request")
        }
        let requestId = frames[1]
        let domain = String(decoding: frames[2], as: UTF8.self)
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        guard mechanism == "CURVE", frames.count >= 7, let key = Z85.encode(key: frames[6]) else {
            return (Self.reply(requestId, "400", "CURVE required", userId: ""),
                    "zap: refused a \(mechanism) handshake from \(address) on \(domain): CURVE required")
        }
        guard let endpoint = Endpoint(rawValue: domain) else {
            return (Self.reply(requestId, "400", "unknown domain", userId: ""), "zap: refused \(key) from \(address): unknown domain \(domain)")
        }
        let ring = keys.current
        guard ring.admits(key, to: endpoint) else {
            let who = ring.member(key).map { "key \"\($0.name)\" (\($0.roles.sorted().map(\.rawValue).joined(separator: ", ")))" }
                ?? "unlisted key \(key)"
            return (Self.reply(requestId, "400", "key not allowed", userId: ""),
                    "zap: refused \(who) from \(address) on the \(endpoint == .clients ? "client" : "worker") endpoint")
        }
        return (Self.reply(requestId, "200", "OK", userId: key), nil)
    }

    private static func reply(_ requestId: [UInt8], _ code: String, _ text: String, userId: String) -> [[UInt8]] {
        [Array("1.0".utf8), requestId, Array(code.utf8), Array(text.utf8), Array(userId.utf8), []]
    }
}
