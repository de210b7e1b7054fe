import Foundation
import Synchronization
import XCTest
import ZeroMQ

/// `send(_:dontWait:released:)`: the callback tells when libzmq lets go of a message,
/// which is what the broker counts a client's unread replies by (spec §3.4).
final class SocketReleasedTests: XCTestCase {
    /// How many messages libzmq has let go of; bumped from its I/O threads.
    private final class Count: Sendable {
        private let n = Mutex(0)
        func bump() { n.withLock { $0 += 1 } }
        var value: Int { n.withLock { $0 } }

        /// Waits up to `seconds` for the count to reach `target` (a bound against hangs),
        /// calling `touch` meanwhile.
        func wait(for target: Int, seconds: Double = 5, touch: () -> Void = {}) -> Int {
            let deadline = Date().addingTimeInterval(seconds)
            while value < target && Date() < deadline {
                touch()
                Thread.sleep(forTimeInterval: 0.01)
            }
            return value
        }
    }

    /// A ROUTER (ROUTER_MANDATORY) and a DEALER that has said hello, so the router knows
    /// its routing id.
    private func connectedPair(_ context: Context, dealerReceiveHWM: Int32? = nil) throws -> (Socket, Socket, [UInt8]) {
        let router = try context.socket(.router)
        try router.setRouterMandatory(true)
        // As the broker's: a session whose peer left keeps its queue for LINGER (set
        // before bind: each connection's session takes the options of that moment).
        try router.setLinger(200)
        try router.setReceiveTimeout(5000)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        if let dealerReceiveHWM { try dealer.setReceiveHighWaterMark(dealerReceiveHWM) }
        try dealer.setReceiveTimeout(5000)
        try dealer.connect(try router.lastEndpoint)
        try dealer.send([Array("hello".utf8)])
        let hello = try XCTUnwrap(try router.receive())
        return (router, dealer, hello[0])
    }

    func testReleasedRunsOnceTheMessageIsDeliveredAndTheFramesArrive() throws {
        let context = try Context()
        let (router, dealer, peer) = try connectedPair(context)
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        let count = Count()
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        XCTAssertTrue(try router.send([peer, [], Array("PONG".utf8), big], dontWait: true, released: { count.bump() }))
        XCTAssertEqual(try dealer.receive(), [[], Array("PONG".utf8), big])
        XCTAssertEqual(count.wait(for: 1), 1)
        // A one-frame message, and an empty last frame, are handed over the same way.
        XCTAssertTrue(try router.send([peer, []], dontWait: true, released: { count.bump() }))
        XCTAssertEqual(try dealer.receive(), [[]])
        XCTAssertEqual(count.wait(for: 2), 2)
    }

    func testReleasedRunsAtOnceWhenTheMessageIsNotQueued() throws {
        let context = try Context()
        let router = try context.socket(.router)
        defer { router.close(linger: 0) }
        try router.setRouterMandatory(true)
        try router.bind("tcp://127.0.0.1:*")
        let count = Count()
        XCTAssertThrowsError(try router.send([Array("nobody".utf8), Array("hi".utf8)], dontWait: true, released: { count.bump() })) { error in
            XCTAssertTrue((error as? ZMQError)?.isHostUnreachable ?? false, "\(error)")
        }
        XCTAssertEqual(count.value, 1, "called before send returned")
        XCTAssertTrue(try router.send([], released: { count.bump() }), "no frames: nothing to send")
        XCTAssertEqual(count.value, 2)
    }

    /// What the broker relies on: a peer that never reads keeps its messages held (only
    /// what the kernel's socket buffers take leaves), and they are let go when it leaves,
    /// once the router's LINGER has passed. (libzmq's session of a bound socket whose
    /// peer left waits LINGER for a reader before it drops the queue: with LINGER -1 it
    /// would hold it forever.)
    func testAPeerThatNeverReadsHoldsItsMessagesUntilItDisconnects() throws {
        let context = try Context()
        let (router, dealer, peer) = try connectedPair(context, dealerReceiveHWM: 1)
        defer { router.close(linger: 0) }
        let count = Count()
        let sent = 64
        let mib = [UInt8](repeating: 0x78, count: 1 << 20)
        for _ in 0..<sent {
            XCTAssertTrue(try router.send([peer, mib], dontWait: true, released: { count.bump() }))
        }
        Thread.sleep(forTimeInterval: 0.5)  // time for libzmq to write what the kernel takes
        let leftEarly = count.value
        print("released while the peer does not read: \(leftEarly) of \(sent) MiB messages")
        XCTAssertLessThan(leftEarly, sent / 2, "most stay held for the peer that does not read")
        dealer.close(linger: 0)
        // The pipe's end is a handshake that the router's side carries out only when its
        // owner calls into it (as the broker's loop does on every poll).
        XCTAssertEqual(count.wait(for: sent, seconds: 10, touch: { _ = try? router.hasInput }), sent,
                       "every one let go once the peer left")
    }
}
