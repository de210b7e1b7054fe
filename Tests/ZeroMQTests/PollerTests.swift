import Foundation
import XCTest
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class PollerTests: XCTestCase {
    func testPollTimesOutWithNothingReadable() throws {
        let context = try Context()
        let router = try context.socket(.router)
        let dealer = try context.socket(.dealer)
        defer { dealer.close(linger: 0); router.close(linger: 0) }
        try router.bind("tcp://127.0.0.1:*")
        try dealer.connect(try router.lastEndpoint)

        var poller = try Poller([.socket(router), .socket(dealer)])
        let start = Date()
        XCTAssertEqual(try poller.poll(timeoutMs: 50), [false, false])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "a 50 ms poll returns promptly")
        XCTAssertEqual(try poller.poll(timeoutMs: 0), [false, false])
    }

    func testPollReportsWhichSocketIsReadable() throws {
        let context = try Context()
        let router = try context.socket(.router)
        let dealer = try context.socket(.dealer)
        let idle = try context.socket(.pair)
        defer { dealer.close(linger: 0); router.close(linger: 0); idle.close(linger: 0) }
        try router.bind("tcp://127.0.0.1:*")
        try dealer.connect(try router.lastEndpoint)
        try idle.bind("inproc://poller-idle-\(UUID().uuidString)")

        var poller = try Poller([.socket(idle), .socket(router), .socket(dealer)])
        try dealer.send([Array("ping".utf8)])
        XCTAssertEqual(try poller.poll(timeoutMs: 5000), [false, true, false])
        let message = try XCTUnwrap(try router.receive(dontWait: true))
        XCTAssertEqual(try poller.poll(timeoutMs: 0), [false, false, false], "drained")

        try router.send([message[0], Array("pong".utf8)])
        XCTAssertEqual(try poller.poll(timeoutMs: 5000), [false, false, true])
        XCTAssertEqual(try dealer.receive(dontWait: true), [Array("pong".utf8)])
    }

    func testPollWakesOnAPipe() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let context = try Context()
        let router = try context.socket(.router)
        defer { router.close(linger: 0) }
        try router.bind("inproc://poller-pipe-\(UUID().uuidString)")

        var poller = try Poller([.socket(router), .fd(fds[0])])
        XCTAssertEqual(try poller.poll(timeoutMs: 10), [false, false])

        var byte: UInt8 = 1
        XCTAssertEqual(write(fds[1], &byte, 1), 1)
        let start = Date()
        XCTAssertEqual(try poller.poll(timeoutMs: 5000), [false, true])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        // Level-triggered: still readable until the byte is read.
        XCTAssertEqual(try poller.poll(timeoutMs: 0), [false, true])
        XCTAssertEqual(read(fds[0], &byte, 1), 1)
        XCTAssertEqual(try poller.poll(timeoutMs: 0), [false, false])
    }

    func testPollWakesWhenAnotherThreadWritesThePipe() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let writeEnd = fds[1]
        var poller = try Poller([.fd(fds[0])])
        let writer = Thread {
            usleep(20_000)
            var b: UInt8 = 7
            _ = write(writeEnd, &b, 1)
        }
        writer.start()
        let start = Date()
        XCTAssertEqual(try poller.poll(timeoutMs: 10_000), [true])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testEmptyPollerJustWaits() throws {
        var poller = try Poller([])
        XCTAssertEqual(try poller.poll(timeoutMs: 1), [])
    }
}
