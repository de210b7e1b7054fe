import XCTest
import ZeroMQ

/// `Socket.receive(into:)`: each message arrives whole and exact into the reused array,
/// whatever the one before it held, and a frame the caller kept is never overwritten.
final class SocketReceiveIntoTests: XCTestCase {
    private func pair(_ context: Context) throws -> (router: Socket, dealer: Socket) {
        let router = try context.socket(.router), dealer = try context.socket(.dealer)
        try router.setReceiveTimeout(5000)
        try router.bind("tcp://127.0.0.1:*")
        try dealer.connect(try router.lastEndpoint)
        return (router, dealer)
    }

    func testMessagesOfEveryShapeArriveExactlyIntoTheReusedArray() throws {
        let context = try Context()
        let (router, dealer) = try pair(context)
        defer { router.close(linger: 0); dealer.close(linger: 0) }
        let big = (0..<(200 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let messages: [[[UInt8]]] = [
            [[], Array("BATON/1".utf8), Array("SUBMIT".utf8), [1, 2], Array(#"{"a":1}"#.utf8)],
            [Array("x".utf8)],
            [[], Array("BATON/1".utf8), Array("EXEC".utf8), [3], big],
            [[], Array("BATON/1".utf8), Array("STATUS".utf8), [], Array(#"{"id":"01J"}"#.utf8)],
            [[], [], [], [], [], [], [], [], [], [9]],
            [Array("a longer first frame than before".utf8), [0xFF]],
        ]
        var frames: [[UInt8]] = []
        var kept: [[UInt8]] = []
        for message in messages {
            XCTAssertTrue(try dealer.send(message))
            let (received, userId) = try router.receive(into: &frames, userId: true)
            XCTAssertTrue(received)
            XCTAssertNil(userId, "no ZAP handler: no User-Id")
            XCTAssertEqual(frames.count, message.count + 1, "the routing id and the message's frames, no more")
            XCTAssertEqual(Array(frames.dropFirst()), message)
            kept.append(frames[frames.count - 1])  // kept by the caller: must survive the next receive
        }
        XCTAssertEqual(kept, messages.map { $0[$0.count - 1] }, "frames kept by the caller were not overwritten")
    }

    func testNothingWaitingLeavesTheArrayAsItWas() throws {
        let context = try Context()
        let (router, dealer) = try pair(context)
        defer { router.close(linger: 0); dealer.close(linger: 0) }
        var frames: [[UInt8]] = [[1], [2, 3]]
        let (received, _) = try router.receive(into: &frames, dontWait: true, userId: false)
        XCTAssertFalse(received)
        XCTAssertEqual(frames, [[1], [2, 3]])
    }
}
