import BatonClient
import BatonWire
import XCTest

/// The client's Lazy Pirate retries (spec §10.4) and its tag matching, against a real
/// ROUTER socket that plays the broker.
final class BatonClientTests: XCTestCase {
    var stub: RouterStub!

    override func setUpWithError() throws {
        stub = try RouterStub()
    }

    override func tearDown() {
        stub.close()
    }

    static func statusBody(_ id: String = "01JW", name: String = "wf", state: WorkflowState = .running) -> JSONValue {
        WorkflowStatus(id: id, name: name, state: state, blocks: [], submittedAt: 1_764_000_000_000).json
    }

    func testARequestWithoutReplyIsSentAgainOnAFreshSocket() throws {
        let call = ClientCall(stub.endpoint, timeoutMs: 200, attempts: 3) { try $0.status("01JW") }
        let dropped = try XCTUnwrap(try stub.receive())
        let retry = try XCTUnwrap(try stub.receive())
        XCTAssertNotEqual(retry.peer, dropped.peer, "the retry comes from a fresh socket")
        XCTAssertEqual(retry.request, dropped.request, "the same request, tag included")
        XCTAssertEqual(retry.command, .status)
        try stub.reply(to: retry, .status, Self.statusBody(state: .succeeded))
        XCTAssertEqual(try call.result().state, .succeeded)
    }

    func testEverySilentTryTimedOutThrowsTimeout() throws {
        let call = ClientCall(stub.endpoint, timeoutMs: 100, attempts: 3) { try $0.ping() }
        var peers: Set<[UInt8]> = []
        for _ in 0..<3 { peers.insert(try XCTUnwrap(try stub.receive()).peer) }
        XCTAssertThrowsError(try call.result()) { error in
            guard case ClientError.timeout(let command, let attempts, let timeoutMs) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(command, "PING")
            XCTAssertEqual(attempts, 3)
            XCTAssertEqual(timeoutMs, 100)
        }
        XCTAssertEqual(peers.count, 3, "each try on a fresh socket")
        XCTAssertNil(try stub.receive(timeoutMs: 100), "no try after the last")
    }

    func testRepliesWithAnotherTagAreIgnored() throws {
        let call = ClientCall(stub.endpoint) { try $0.status("01JW") }
        let request = try XCTUnwrap(try stub.receive())
        // Were either taken for the answer, the call would throw or return the wrong name.
        try stub.reply(to: request, .error, ["code": "not_found", "message": "stale"], tag: Array("stale".utf8))
        try stub.reply(to: request, .status, Self.statusBody(name: "wrong tag"), tag: request.tag + [0x21])
        try stub.reply(to: request, .status, Self.statusBody(name: "right"))
        XCTAssertEqual(try call.result().name, "right")
    }

    func testALateReplyToAnEarlierRequestIsNotTakenForTheNextOne() throws {
        let call = ClientCall(stub.endpoint) { client in
            try client.ping()
            return try client.status("01JW").name
        }
        let ping = try XCTUnwrap(try stub.receive())
        try stub.reply(to: ping, .pong, ["time": "2026-12-04T12:00:00.000Z"])
        // The same PONG again (say, a duplicate), queued ahead of the STATUS reply on the
        // same socket: it carries the PING's tag, so the client must skip it.
        try stub.reply(to: ping, .pong, ["time": "2026-12-04T12:00:00.000Z"])
        let status = try XCTUnwrap(try stub.receive())
        XCTAssertEqual(status.peer, ping.peer, "an answered request keeps its socket")
        XCTAssertNotEqual(status.tag, ping.tag)
        try stub.reply(to: status, .status, Self.statusBody(name: "after ping"))
        XCTAssertEqual(try call.result(), "after ping")
    }

    func testAnErrorReplyIsARemoteErrorWithItsCode() throws {
        let call = ClientCall(stub.endpoint) { try $0.exec("01JX") }
        let request = try XCTUnwrap(try stub.receive())
        try stub.reply(to: request, .error, ["code": "not_found", "message": "no workflow 01JX"])
        XCTAssertThrowsError(try call.result()) { error in
            guard case ClientError.remote(let wire) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(wire, WireError(.notFound, "no workflow 01JX"))
        }
    }

    func testAnUnknownErrorCodeCountsAsUnavailable() throws {
        for body: JSONValue in [["code": "quota_exceeded", "message": "later"], ["message": "no code"]] {
            let call = ClientCall(stub.endpoint) { try $0.ping() }
            let request = try XCTUnwrap(try stub.receive())
            try stub.reply(to: request, .error, body)
            XCTAssertThrowsError(try call.result()) { error in
                XCTAssertEqual((error as? ClientError)?.code, .unavailable, "\(error)")
                guard case ClientError.remote(let wire) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(wire.message.hasPrefix(body["message"]?.stringValue ?? "?"), wire.message)
            }
        }
    }

    func testAReplyOfTheWrongKindIsABadReply() throws {
        let call = ClientCall(stub.endpoint) { try $0.status("01JW") }
        let request = try XCTUnwrap(try stub.receive())
        try stub.reply(to: request, .pong, ["time": "2026-12-04T12:00:00.000Z"])
        XCTAssertThrowsError(try call.result()) { error in
            guard case ClientError.badReply = error else { return XCTFail("\(error)") }
        }
    }

    func testListReturnsTypedSummariesAndTheNextCursor() throws {
        let rows = [
            WorkflowSummary(id: "01JB", name: "b", state: .running, reason: nil, submittedAt: 1_764_000_001_000,
                            startedAt: 1_764_000_002_000, finishedAt: nil),
            WorkflowSummary(id: "01JA", name: "a", state: .failed, reason: "job 01JA.0.0 failed", submittedAt: 1_764_000_000_000,
                            startedAt: 1_764_000_000_500, finishedAt: 1_764_000_000_900),
        ]
        let call = ClientCall(stub.endpoint) { try $0.list(ListRequest(limit: 2)) }
        let request = try XCTUnwrap(try stub.receive())
        XCTAssertEqual(request.body["limit"], .int(2))
        try stub.reply(to: request, .list, ["workflows": .array(rows.map(\.json)), "next": "01JA"])
        let page = try call.result()
        XCTAssertEqual(page.workflows, rows)
        XCTAssertEqual(page.next, "01JA")
    }
}
