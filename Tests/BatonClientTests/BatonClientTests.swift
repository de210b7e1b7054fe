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

    // MARK: STATUS pages (spec §4.3.3)

    private static let paged = WorkflowStatus(id: "01JW", name: "wf", state: .succeeded, blocks: [
        .init(state: .succeeded, jobs: (0..<2).map { .init(jobId: "01JW.0.\($0)", type: "echo", state: .succeeded, attempt: 1, output: ["n": .int(Int64($0))]) }),
        .init(state: .succeeded, jobs: [.init(jobId: "01JW.1.0", type: "echo", state: .succeeded, attempt: 1, output: ["n": 2])]),
    ], submittedAt: 1_764_000_000_000)

    func testStatusExecAndCancelFollowThePagesAndReturnTheWholeWorkflow() throws {
        for command in [ClientCommand.status, .exec, .cancel] {
            let call = ClientCall(stub.endpoint) { client -> WorkflowStatus in
                switch command {
                case .exec: try client.exec("01JW")
                case .cancel: try client.cancel("01JW")
                default: try client.status("01JW")
                }
            }
            let seen = try stub.serve(until: call) { request in
                // One job a page: the reply a broker sends with pages of one byte.
                let from = Int(request.body["jobs_from"]?.intValue ?? 0)
                return (.status, Self.paged.pageJSON(from: from, maxBytes: 1))
            }
            XCTAssertEqual(try call.result(), Self.paged, "\(command)")
            XCTAssertEqual(seen.map(\.command), [command, .status, .status])
            XCTAssertEqual(seen.map { JSONWriter.string(.object($0.body)) },
                           [#"{"id":"01JW"}"#, #"{"id":"01JW","jobs_from":1}"#, #"{"id":"01JW","jobs_from":2}"#])
        }
    }

    func testAStatusCursorThatDoesNotMoveIsABadReply() throws {
        let call = ClientCall(stub.endpoint) { try $0.status("01JW") }
        _ = try stub.serve(until: call) { _ in
            var o = try XCTUnwrap(Self.paged.pageJSON(from: 0, maxBytes: 1).objectValue)
            o["jobs_next"] = 0
            return (.status, .object(o))
        }
        XCTAssertThrowsError(try call.result()) { error in
            guard case ClientError.badReply(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("jobs_next"), why)
        }
    }

    func testStatusPageReturnsOnePageAndItsCursor() throws {
        let call = ClientCall(stub.endpoint) { try $0.statusPage("01JW", jobsFrom: 1) }
        _ = try stub.serve(until: call) { request in
            (.status, Self.paged.pageJSON(from: Int(request.body["jobs_from"]?.intValue ?? 0), maxBytes: 1))
        }
        let page = try call.result()
        XCTAssertEqual(page.status.blocks.map { $0.jobs.map(\.jobId) }, [["01JW.0.1"], []])
        XCTAssertEqual(page.next, 2)
    }

}
