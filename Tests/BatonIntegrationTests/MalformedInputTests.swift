import BatonClient
import BatonWire
import Foundation
import XCTest
import ZeroMQ

/// Bad frames from raw sockets: every one gets an ERROR with the right code, and the
/// broker keeps serving everyone else.
final class MalformedInputTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker(extra: ["--max-message-bytes", "4096"])
    }

    override func tearDown() { cluster.stopAll() }

    private func rawDealer(_ context: Context) throws -> Socket {
        let s = try context.socket(.dealer)
        try s.setLinger(0)
        try s.setReceiveTimeout(5000)
        try s.connect(cluster.clientEndpoint)
        return s
    }

    private func exchange(_ s: Socket, _ frames: [[UInt8]]) throws -> ClientFrames.Reply {
        try s.send(frames)
        guard let reply = try s.receive() else { throw TestFailure("no reply") }
        return try ClientFrames.decodeReply(reply)
    }

    func testEveryMalformedRequestGetsAnErrorAndTheBrokerKeepsServing() throws {
        let context = try Context()
        let s = try rawDealer(context)
        defer { s.close(linger: 0) }
        let p = Array("BATON/1".utf8)
        let ping = Array("PING".utf8)
        let tag = Array("tag1".utf8)
        let cases: [(String, [[UInt8]], ErrorCode, [UInt8])] = [
            ("missing delimiter", [Array("x".utf8), p, ping, tag, Array("{}".utf8)], .badRequest, tag),
            ("wrong protocol", [[], Array("HTTP/1.1".utf8), ping, tag, Array("{}".utf8)], .unsupportedVersion, tag),
            ("wrong version", [[], Array("BATON/2".utf8), ping, tag, Array("{}".utf8)], .unsupportedVersion, tag),
            ("too few frames", [[], p, ping], .badRequest, []),
            ("too many frames", [[], p, ping, tag, Array("{}".utf8), []], .badRequest, tag),
            ("unknown command", [[], p, Array("LAUNCH".utf8), tag, Array("{}".utf8)], .unknownCommand, tag),
            ("invalid JSON", [[], p, Array("SUBMIT".utf8), tag, Array("{\"workflow\":".utf8)], .badRequest, tag),
            ("invalid UTF-8", [[], p, Array("SUBMIT".utf8), tag, [0x7B, 0xFF, 0xFE, 0x7D]], .badRequest, tag),
            ("body not an object", [[], p, ping, tag, Array("[1]".utf8)], .badRequest, tag),
            ("tag too long", [[], p, ping, [UInt8](repeating: 1, count: 65), Array("{}".utf8)], .badRequest, []),
            ("spec with empty blocks", [[], p, Array("SUBMIT".utf8), tag, Array(#"{"workflow":{"name":"x","blocks":[]}}"#.utf8)], .badRequest, tag),
            ("too large", [[], p, ping, tag, Array("{\"pad\":\"\(String(repeating: "x", count: 5000))\"}".utf8)], .tooLarge, tag),
            ("unknown id", [[], p, Array("EXEC".utf8), tag, Array(#"{"id":"nope"}"#.utf8)], .notFound, tag),
        ]
        for (name, frames, code, echoed) in cases {
            let reply = try exchange(s, frames)
            XCTAssertEqual(reply.command, .error, name)
            XCTAssertEqual(reply.body["code"]?.stringValue, code.rawValue, "\(name): \(reply.body)")
            XCTAssertFalse(reply.body["message"]?.stringValue?.isEmpty ?? true, "\(name) has a message")
            XCTAssertEqual(reply.tag, echoed, name)
        }
        let spec = try exchange(s, [[], p, Array("SUBMIT".utf8), tag,
                                    Array(#"{"workflow":{"name":"x","blocks":[{"jobs":[{"type":"echo"},{"type":""}]}]}}"#.utf8)])
        XCTAssertEqual(spec.body["message"], "workflow.blocks[0].jobs[1].type: must not be empty")
        // Still serving, on the same socket and on a fresh client.
        XCTAssertEqual(try exchange(s, [[], p, ping, tag, Array("{}".utf8)]).command, .pong)
        XCTAssertNoThrow(try cluster.client().ping())
    }

    func testOversizedMessageIsDroppedAndBrokerKeepsServing() throws {
        let context = try Context()
        let s = try rawDealer(context)
        defer { s.close(linger: 0) }
        try s.setReceiveTimeout(500)
        // Over 16 x the limit: ZMQ_MAXMSGSIZE cuts the connection, nothing is answered.
        let huge = [UInt8](repeating: 0x20, count: 4096 * 17)
        try s.send([[], Array("BATON/1".utf8), Array("PING".utf8), [], huge])
        XCTAssertNil(try? s.receive(), "no reply to a message over ZMQ_MAXMSGSIZE")
        XCTAssertNoThrow(try cluster.client().ping())
        XCTAssertTrue(cluster.broker?.isRunning ?? false)
    }

    func testAWorkerOfAnotherVersionIsToldSoInOurs() throws {
        let context = try Context()
        let s = try context.socket(.dealer)
        defer { s.close() }
        try s.setLinger(0)
        try s.setReceiveTimeout(5000)
        try s.connect(cluster.workerEndpoint)
        try s.send([[], Array("BATON-W/2".utf8), Array("READY".utf8), Array(#"{"worker":"future","types":["echo"]}"#.utf8)])
        guard let reply = try s.receive() else { throw TestFailure("no reply to a BATON-W/2 READY") }
        let message = try WorkerFrames.decode(reply[...])
        XCTAssertEqual(message.command, .disconnect)
        XCTAssertEqual(message.body["code"], "unsupported_version")
        XCTAssertEqual(message.body["reason"], #"this broker speaks BATON-W/1; got "BATON-W/2""#)
        // Not a worker's: another protocol gets no reply at all.
        try s.send([[], Array("HTTP/1.1".utf8), Array("GET".utf8), Array("{}".utf8)])
        try s.setReceiveTimeout(300)
        XCTAssertNil(try s.receive())
    }

    func testReqAndDealerClientsBothWork() throws {
        let context = try Context()
        let req = try context.socket(.req)
        defer { req.close(linger: 0) }
        try req.setLinger(0)
        try req.setReceiveTimeout(5000)
        try req.connect(cluster.clientEndpoint)
        // REQ adds the empty delimiter itself, and strips it from the reply.
        try req.send([Array("BATON/1".utf8), Array("SUBMIT".utf8), Array("r1".utf8),
                      Array(#"{"workflow":{"name":"req","blocks":[{"jobs":[{"type":"echo"}]}]},"idempotency_key":"req-1"}"#.utf8)])
        let raw = try XCTUnwrap(try req.receive())
        let reply = try ClientFrames.decodeReply(raw, hasDelimiter: false)
        XCTAssertEqual(reply.command, .id)
        XCTAssertEqual(reply.tag, Array("r1".utf8))
        let id = try XCTUnwrap(reply.body["id"]?.stringValue)
        // The DEALER client (the SDK) sees the same workflow.
        let dealer = try cluster.client()
        XCTAssertEqual(try dealer.status(id).name, "req")
        let spec = try WorkflowSpec.parse(["name": "req", "blocks": [["jobs": [["type": "echo"]]]]])
        XCTAssertEqual(try dealer.submit(spec, idempotencyKey: "req-1").id, id)
    }
}
