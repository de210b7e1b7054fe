import Foundation
import XCTest
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Real libzmq sockets over loopback tcp (wildcard ports) and inproc.
final class SocketTests: XCTestCase {
    /// A bound ROUTER and a DEALER connected to it. Both have a 5 s receive timeout, so a
    /// lost message fails the test instead of hanging it.
    private func routerDealer(_ context: Context, endpoint: String = "tcp://127.0.0.1:*") throws -> (Socket, Socket) {
        let router = try context.socket(.router)
        let dealer = try context.socket(.dealer)
        try router.setReceiveTimeout(5000)
        try dealer.setReceiveTimeout(5000)
        try router.bind(endpoint)
        try dealer.connect(try router.lastEndpoint)
        return (router, dealer)
    }

    private func uniqueInproc() -> String { "inproc://baton-test-\(UUID().uuidString)" }

    // MARK: Round trips

    private func assertMultipartRoundTrip(_ router: Socket, _ dealer: Socket, file: StaticString = #filePath, line: UInt = #line) throws {
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let request: [[UInt8]] = [[], Array("BATON/1".utf8), [], big, [0], []]
        XCTAssertTrue(try dealer.send(request), file: file, line: line)

        let received = try XCTUnwrap(try router.receive(), "router got nothing", file: file, line: line)
        XCTAssertEqual(received.count, request.count + 1, "routing id + frames", file: file, line: line)
        XCTAssertFalse(received[0].isEmpty, "routing id", file: file, line: line)
        XCTAssertEqual(Array(received.dropFirst()), request, file: file, line: line)

        let reply: [[UInt8]] = [received[0], [], Array("PONG".utf8), big.reversed(), []]
        XCTAssertTrue(try router.send(reply), file: file, line: line)
        XCTAssertEqual(try dealer.receive(), Array(reply.dropFirst()), file: file, line: line)
    }

    func testRouterDealerMultipartOverTcp() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context)
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        try assertMultipartRoundTrip(router, dealer)
    }

    func testRouterDealerMultipartOverInproc() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context, endpoint: uniqueInproc())
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        try assertMultipartRoundTrip(router, dealer)
    }

    func testSingleEmptyFrameRoundTrips() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context, endpoint: uniqueInproc())
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        try dealer.send([[]])
        let got = try XCTUnwrap(try router.receive())
        XCTAssertEqual(got.count, 2)
        XCTAssertEqual(got[1], [])
    }

    /// `receive` reserves room for a few frames on the first one; a longer message
    /// still arrives whole and in order, empty and one-byte frames included.
    func testAMessageLongerThanTheReservedFramesArrivesWhole() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context, endpoint: uniqueInproc())
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        let request: [[UInt8]] = (0..<21).map { i in (0..<(i * 7 % 13)).map { UInt8(truncatingIfNeeded: i &* 17 &+ $0) } }
        XCTAssertTrue(try dealer.send(request))
        let got = try XCTUnwrap(try router.receive())
        XCTAssertEqual(Array(got.dropFirst()), request)
    }

    func testRoutingIdIsTheOneTheDealerSet() throws {
        let context = try Context()
        let router = try context.socket(.router)
        let dealer = try context.socket(.dealer)
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        try router.setReceiveTimeout(5000)
        try dealer.setRoutingId(Array("client-7".utf8))
        try router.bind("tcp://127.0.0.1:*")
        try dealer.connect(try router.lastEndpoint)
        try dealer.send([Array("hi".utf8)])
        XCTAssertEqual(try router.receive(), [Array("client-7".utf8), Array("hi".utf8)])
    }

    func testReqRepRoundTrip() throws {
        let context = try Context()
        let rep = try context.socket(.rep)
        let req = try context.socket(.req)
        defer { req.close(linger: 0); rep.close(linger: 0) }
        try rep.setReceiveTimeout(5000)
        try req.setReceiveTimeout(5000)
        try rep.bind("tcp://127.0.0.1:*")
        try req.connect(try rep.lastEndpoint)

        // REQ adds the empty delimiter and REP strips it: both sides see only the payload.
        try req.send([Array("BATON/1".utf8), Array("PING".utf8), [], Array("{}".utf8)])
        XCTAssertEqual(try rep.receive(), [Array("BATON/1".utf8), Array("PING".utf8), [], Array("{}".utf8)])
        try rep.send([Array("BATON/1".utf8), Array("PONG".utf8)])
        XCTAssertEqual(try req.receive(), [Array("BATON/1".utf8), Array("PONG".utf8)])
    }

    func testReqCannotSendTwiceWithoutAReply() throws {
        let context = try Context()
        let req = try context.socket(.req)
        defer { req.close(linger: 0) }
        try req.connect("tcp://127.0.0.1:1")  // nobody listens; the first send only queues
        try req.send([Array("one".utf8)], dontWait: true)
        XCTAssertThrowsError(try req.send([Array("two".utf8)], dontWait: true)) { error in
            let e = error as? ZMQError
            XCTAssertEqual(e?.call, "zmq_send")
            XCTAssertEqual(e?.isWouldBlock, false, "EFSM is not EAGAIN")
            XCTAssertEqual(e?.isHostUnreachable, false)
        }
    }

    // MARK: Non-blocking edges

    func testReceiveDontWaitReturnsNilWhenNothingIsWaiting() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context)
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        XCTAssertNil(try router.receive(dontWait: true))
        XCTAssertNil(try dealer.receive(dontWait: true))
        XCTAssertFalse(try router.hasInput)
    }

    func testHasInputTurnsTrueWhenAMessageWaits() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context, endpoint: uniqueInproc())
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        try dealer.send([Array("x".utf8)])
        let deadline = Date().addingTimeInterval(5)
        while try !router.hasInput, Date() < deadline { usleep(1000) }
        XCTAssertTrue(try router.hasInput)
        XCTAssertEqual(try router.receive(dontWait: true)?.last, Array("x".utf8))
        XCTAssertNil(try router.receive(dontWait: true))
    }

    func testDealerWithNoPeerCannotQueueWithoutWaiting() throws {
        let context = try Context()
        let dealer = try context.socket(.dealer)
        defer { dealer.close(linger: 0) }
        XCTAssertFalse(try dealer.send([Array("x".utf8)], dontWait: true))
    }

    func testSendingNoFramesSendsNothing() throws {
        let context = try Context()
        let (router, dealer) = try routerDealer(context, endpoint: uniqueInproc())
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        XCTAssertTrue(try dealer.send([]))
        try dealer.send([Array("after".utf8)])
        XCTAssertEqual(try router.receive()?.last, Array("after".utf8), "the empty send put nothing in front")
    }

    // MARK: Options

    func testRouterMandatoryReportsAnUnknownPeer() throws {
        let context = try Context()
        let router = try context.socket(.router)
        defer { router.close(linger: 0) }
        try router.setRouterMandatory(true)
        try router.bind("tcp://127.0.0.1:*")
        XCTAssertThrowsError(try router.send([Array("nobody".utf8), [], Array("hi".utf8)])) { error in
            guard let e = error as? ZMQError else { return XCTFail("\(error)") }
            XCTAssertTrue(e.isHostUnreachable, e.description)
            XCTAssertEqual(e.errno, EHOSTUNREACH)
            XCTAssertEqual(e.call, "zmq_send")
        }
        // dontWait does not turn it into a value: it is not EAGAIN.
        XCTAssertThrowsError(try router.send([Array("nobody".utf8), Array("hi".utf8)], dontWait: true))
    }

    func testWithoutRouterMandatoryAnUnknownPeerIsDroppedSilently() throws {
        let context = try Context()
        let router = try context.socket(.router)
        defer { router.close(linger: 0) }
        try router.bind("tcp://127.0.0.1:*")
        XCTAssertTrue(try router.send([Array("nobody".utf8), Array("hi".utf8)]))
    }

    func testMaxMessageSizeDropsAnOversizedMessage() throws {
        let context = try Context()
        let router = try context.socket(.router)
        defer { router.close(linger: 0) }
        try router.setMaxMessageSize(1000)
        try router.setReceiveTimeout(5000)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint

        let a = try context.socket(.dealer)
        defer { a.close(linger: 0) }
        try a.connect(endpoint)
        // A frame of exactly the limit is accepted; the connection is up.
        try a.send([[UInt8](repeating: 1, count: 1000)])
        XCTAssertEqual(try router.receive()?.last?.count, 1000)

        try a.send([[UInt8](repeating: 2, count: 1001)])
        var poller = try Poller([.socket(router)])
        XCTAssertEqual(try poller.poll(timeoutMs: 300), [false], "the oversized message must not arrive")

        // The router still serves others, and what it receives next is not the big one.
        let b = try context.socket(.dealer)
        defer { b.close(linger: 0) }
        try b.setRoutingId(Array("b".utf8))
        try b.connect(endpoint)
        try b.send([Array("small".utf8)])
        XCTAssertEqual(try router.receive(), [Array("b".utf8), Array("small".utf8)])
        XCTAssertNil(try router.receive(dontWait: true))
    }

    func testLastEndpointResolvesTheWildcardPort() throws {
        let context = try Context()
        let a = try context.socket(.router)
        let b = try context.socket(.router)
        defer { a.close(linger: 0); b.close(linger: 0) }
        try a.bind("tcp://127.0.0.1:*")
        try b.bind("tcp://127.0.0.1:*")
        for endpoint in [try a.lastEndpoint, try b.lastEndpoint] {
            XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
            let port = Int(endpoint.dropFirst("tcp://127.0.0.1:".count))
            XCTAssertNotNil(port, endpoint)
            XCTAssertGreaterThan(port ?? 0, 0)
        }
        XCTAssertNotEqual(try a.lastEndpoint, try b.lastEndpoint)
        let inproc = uniqueInproc()
        let c = try context.socket(.pair)
        defer { c.close(linger: 0) }
        XCTAssertEqual(try c.lastEndpoint, "", "nothing bound yet")
        try c.bind(inproc)
        XCTAssertEqual(try c.lastEndpoint, inproc)
    }

    func testBindErrorsKeepTheirErrno() throws {
        let context = try Context()
        let a = try context.socket(.router)
        let b = try context.socket(.router)
        defer { a.close(linger: 0); b.close(linger: 0) }
        try a.bind("tcp://127.0.0.1:*")
        XCTAssertThrowsError(try b.bind(try a.lastEndpoint)) { error in
            XCTAssertEqual((error as? ZMQError)?.errno, EADDRINUSE)
            XCTAssertEqual((error as? ZMQError)?.call, "zmq_bind")
        }
        XCTAssertThrowsError(try b.bind("nonsense://x")) { error in
            XCTAssertEqual((error as? ZMQError)?.errno, EPROTONOSUPPORT)
        }
        XCTAssertThrowsError(try b.connect("tcp://")) { error in
            XCTAssertEqual((error as? ZMQError)?.call, "zmq_connect")
        }
    }

    // MARK: Closing

    func testCloseIsIdempotentAndAClosedSocketRefusesWork() throws {
        let context = try Context()
        let s = try context.socket(.dealer)
        try s.bind(uniqueInproc())
        s.close(linger: 0)
        s.close()
        s.close(linger: 0)
        XCTAssertThrowsError(try s.send([[1]])) { error in
            XCTAssertEqual((error as? ZMQError)?.errno, ENOTSOCK)
            XCTAssertEqual((error as? ZMQError)?.call, "closed socket")
        }
        XCTAssertThrowsError(try s.receive(dontWait: true))
        XCTAssertThrowsError(try s.lastEndpoint)
        XCTAssertThrowsError(try s.setLinger(0))
        XCTAssertThrowsError(try s.connect("tcp://127.0.0.1:1"))
        XCTAssertThrowsError(try Poller([.socket(s)]))
    }

    func testClosingWithLingerZeroDropsUnsentMessagesPromptly() throws {
        // A DEALER with a message queued for a peer that never answers: with linger 0,
        // close and the context's termination do not wait for it.
        let start = Date()
        do {
            let context = try Context()
            let dealer = try context.socket(.dealer)
            try dealer.connect("tcp://127.0.0.1:1")
            try dealer.send([Array("stuck".utf8)], dontWait: true)
            dealer.close(linger: 0)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testEverySocketTypeOpens() throws {
        let context = try Context()
        for type in [SocketType.router, .dealer, .req, .rep, .pair, .push, .pull] {
            let s = try context.socket(type)
            XCTAssertEqual(s.type, type)
            s.close(linger: 0)
        }
    }

    func testLibraryVersionIsAtLeast4() {
        let (major, minor, patch) = Context.libraryVersion
        XCTAssertGreaterThanOrEqual(major, 4, "\(major).\(minor).\(patch)")
    }
}
