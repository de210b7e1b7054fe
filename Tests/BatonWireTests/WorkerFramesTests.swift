import BatonWire
import XCTest

final class WorkerFramesTests: XCTestCase {
    func testEncodeExactFrames() {
        XCTAssertEqual(WorkerFrames.encode(.init(.heartbeat)), frames("", "BATON-W/1", "HEARTBEAT", "{}"))
        XCTAssertEqual(
            WorkerFrames.encode(.init(.ready, ["worker": "w1", "types": ["echo", "sleep"], "capacity": 2])),
            frames("", "BATON-W/1", "READY", #"{"capacity":2,"types":["echo","sleep"],"worker":"w1"}"#))
    }

    func testEveryCommandRoundTrips() throws {
        for c in WorkerCommand.allCases {
            let m = WorkerFrames.Message(c, ["reason": "x", "n": 1])
            XCTAssertEqual(try WorkerFrames.decode(WorkerFrames.encode(m)[...]), m)
        }
    }

    func testDecodesAfterARoutingId() throws {
        let message = [utf8("routing-id")] + frames("", "BATON-W/1", "DISCONNECT", "{}")
        XCTAssertEqual(try WorkerFrames.decode(message.dropFirst()), WorkerFrames.Message(.disconnect))
    }

    func testErrors() {
        func decode(_ f: [[UInt8]]) -> WireError? { wireError { try WorkerFrames.decode(f[...]) } }

        XCTAssertEqual(decode([]), WireError(.badRequest, "frame 0 must be the empty delimiter"))
        XCTAssertEqual(decode(frames("x", "BATON-W/1", "READY", "{}")),
                       WireError(.badRequest, "frame 0 must be the empty delimiter"))
        XCTAssertEqual(decode([[]]), WireError(.unsupportedVersion, "frame 1 must be the worker protocol id \"BATON-W/1\""))
        XCTAssertEqual(decode(frames("", "BATON/1", "READY", "{}"))?.code, .unsupportedVersion)
        XCTAssertEqual(decode(frames("", "BATON-W/2", "READY", "{}"))?.code, .unsupportedVersion)
        XCTAssertEqual(decode(frames("", "BATON-W/1", "READY")),
                       WireError(.badRequest, "a worker message has 4 frames (delimiter, protocol, command, body); got 3"))
        XCTAssertEqual(decode(frames("", "BATON-W/1", "READY", "{}", "{}")),
                       WireError(.badRequest, "a worker message has 4 frames (delimiter, protocol, command, body); got 5"))
        XCTAssertEqual(decode(frames("", "BATON-W/1", "SUBMIT", "{}")),
                       WireError(.unknownCommand, "unknown worker command \"SUBMIT\""))
        XCTAssertEqual(decode(frames("", "BATON-W/1", "ready", "{}"))?.code, .unknownCommand)
        XCTAssertEqual(decode(frames("", "BATON-W/1", "RESULT", "[]")),
                       WireError(.badRequest, "body must be a JSON object, got an array"))
        XCTAssertEqual(decode(frames("", "BATON-W/1", "RESULT", "{")),
                       WireError(.badRequest, "body: invalid JSON at byte 1: expected a string key"))
        XCTAssertEqual(decode([[], utf8("BATON-W/1"), utf8("RESULT"), [0x7B, 0xFF, 0x7D]]),
                       WireError(.badRequest, "body is not valid UTF-8"))
    }

    func testCheckOrder() {
        // Protocol before frame count, frame count before command, command before body.
        XCTAssertEqual(wireError { try WorkerFrames.decode(frames("", "NOPE", "NOPE")[...]) }?.code, .unsupportedVersion)
        XCTAssertEqual(wireError { try WorkerFrames.decode(frames("", "BATON-W/1", "NOPE", "[]", "x")[...]) }?.code,
                       .badRequest)
        XCTAssertEqual(wireError { try WorkerFrames.decode(frames("", "BATON-W/1", "NOPE", "[]")[...]) }?.code,
                       .unknownCommand)
    }

    /// A routed message is the routing id and then `encode`'s frames, for every command;
    /// each command's shared frame is its name's bytes.
    func testARoutedMessageIsThePeerThenTheMessage() {
        for command in WorkerCommand.allCases {
            XCTAssertEqual(command.frame, Array(command.rawValue.utf8))
            let peer: [UInt8] = [0, 0x80, 0, 0x41, 0xA7]
            XCTAssertEqual(WorkerFrames.routed(to: peer, command, bodyBytes: utf8("{}")),
                           [peer] + WorkerFrames.encode(command, bodyBytes: utf8("{}")))
            XCTAssertEqual(WorkerFrames.encode(command, bodyBytes: utf8("{}"))[2], Array(command.rawValue.utf8))
        }
    }
}
