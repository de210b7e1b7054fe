import Foundation
import XCTest
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class ZMQErrorTests: XCTestCase {
    func testDescriptionNamesTheCallTheErrnoTextAndNumber() {
        let e = ZMQError(errno: EAGAIN, call: "zmq_msg_recv")
        let text = String(cString: strerror(EAGAIN))
        XCTAssertEqual(e.description, "zmq_msg_recv: \(text) (errno \(EAGAIN))")
        // libzmq words some errnos itself: zmq_strerror(EHOSTUNREACH) is not strerror's text.
        XCTAssertEqual(ZMQError(errno: EHOSTUNREACH, call: "zmq_send").description,
                       "zmq_send: Host unreachable (errno \(EHOSTUNREACH))")
    }

    func testDescriptionOfALibzmqOwnErrno() throws {
        // EFSM is one of libzmq's own errnos (ZMQ_HAUSNUMERO + n): get it from a REQ that
        // sends twice, and check its text comes from zmq_strerror, not "Unknown error".
        let context = try Context()
        let req = try context.socket(.req)
        defer { req.close(linger: 0) }
        try req.connect("tcp://127.0.0.1:1")
        try req.send([[1]], dontWait: true)
        do {
            try req.send([[2]], dontWait: true)
            XCTFail("a REQ must not send twice")
        } catch {
            XCTAssertTrue(error.description.contains("Operation cannot be accomplished in current state"), error.description)
            XCTAssertTrue(error.description.hasPrefix("zmq_send: "), error.description)
        }
    }

    func testClassifiers() {
        XCTAssertTrue(ZMQError(errno: EAGAIN, call: "x").isWouldBlock)
        XCTAssertTrue(ZMQError(errno: EINTR, call: "x").isInterrupted)
        XCTAssertTrue(ZMQError(errno: EHOSTUNREACH, call: "x").isHostUnreachable)
        let other = ZMQError(errno: EINVAL, call: "x")
        XCTAssertFalse(other.isWouldBlock || other.isInterrupted || other.isHostUnreachable || other.isTerminated)
        XCTAssertEqual(ZMQError(errno: EINVAL, call: "a"), ZMQError(errno: EINVAL, call: "a"))
        XCTAssertNotEqual(ZMQError(errno: EINVAL, call: "a"), ZMQError(errno: EINVAL, call: "b"))
    }
}
