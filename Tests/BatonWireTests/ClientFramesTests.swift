import BatonWire
import XCTest

final class ClientFramesTests: XCTestCase {
    /// A well-formed request's frames, each of which a test may replace.
    private func request(
        delimiter: String = "", protocolId: String = "BATON/1", command: String = "PING", tag: String = "t1",
        body: String = "{}"
    ) -> [[UInt8]] {
        frames(delimiter, protocolId, command, tag, body)
    }

    private func rejection(
        _ f: [[UInt8]], maxBytes: Int = .max, file: StaticString = #filePath, line: UInt = #line
    ) -> ClientFrames.Rejection? {
        do {
            let r = try ClientFrames.decodeRequest(f[...], maxBytes: maxBytes)
            XCTFail("decoded as \(r)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func assertRejected(
        _ f: [[UInt8]], _ code: ErrorCode, _ message: String? = nil, tag: [UInt8], maxBytes: Int = .max,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let r = rejection(f, maxBytes: maxBytes, file: file, line: line) else { return }
        XCTAssertEqual(r.error.code, code, r.error.message, file: file, line: line)
        if let message { XCTAssertEqual(r.error.message, message, file: file, line: line) }
        XCTAssertEqual(r.tag, tag, "echoed tag", file: file, line: line)
    }

    // MARK: Decoding well-formed requests

    func testDecodesAWellFormedRequest() throws {
        let r = try ClientFrames.decodeRequest(request(command: "STATUS", tag: "c1-0002", body: #"{"id":"01ABC","x":[1]}"#)[...])
        XCTAssertEqual(r, ClientFrames.Request(command: .status, tag: utf8("c1-0002"), body: ["id": "01ABC", "x": [1]]))
    }

    func testEveryCommandDecodes() throws {
        for c in ClientCommand.allCases {
            let r = try ClientFrames.decodeRequest(request(command: c.rawValue)[...])
            XCTAssertEqual(r.command, c)
        }
    }

    func testDecodesTheFramesAfterARoutingId() throws {
        // The broker's ROUTER hands over [routing id] + frames; it passes a slice that
        // does not start at index 0.
        let message = [[0x00, 0x6B, 0x8B, 0x45, 0x67]] + request(tag: "")
        let r = try ClientFrames.decodeRequest(message.dropFirst())
        XCTAssertEqual(r, ClientFrames.Request(command: .ping))
    }

    func testEmptyTagAndMaximumTagAreAccepted() throws {
        XCTAssertEqual(try ClientFrames.decodeRequest(request(tag: "")[...]).tag, [])
        let tag = [UInt8](repeating: 0xFF, count: ClientFrames.maxTagBytes)
        var f = request()
        f[3] = tag
        XCTAssertEqual(try ClientFrames.decodeRequest(f[...]).tag, tag, "the tag is opaque bytes, not text")
    }

    func testRequestAtExactlyMaxBytesIsAccepted() throws {
        let f = request(body: #"{"pad":"xxxxxxxxxx"}"#)
        let size = f.reduce(0) { $0 + $1.count }
        XCTAssertEqual(try ClientFrames.decodeRequest(f[...], maxBytes: size).command, .ping)
    }

    // MARK: Errors, in the contract's order (spec §4.2)

    func testCheck1NonEmptyDelimiterIsBadRequest() {
        assertRejected(request(delimiter: "x"), .badRequest, "frame 0 must be the empty delimiter", tag: utf8("t1"))
        // A REQ-style message without the delimiter: frame 0 is the protocol id, and the
        // body sits in frame 3, which is echoed as the tag because it is at most 64 bytes.
        assertRejected(frames("BATON/1", "PING", "t1", "{}"), .badRequest, "frame 0 must be the empty delimiter",
                       tag: utf8("{}"))
        assertRejected([], .badRequest, "frame 0 must be the empty delimiter", tag: [])
    }

    func testCheck2MissingProtocolFrameIsBadRequest() {
        assertRejected([[]], .badRequest, "missing frame 1 (protocol id)", tag: [])
    }

    func testCheck3OtherProtocolIsUnsupportedVersion() {
        assertRejected(request(protocolId: "ZMTP/1"), .unsupportedVersion,
                       "frame 1 must be the protocol id \"BATON/1\", got \"ZMTP/1\"", tag: utf8("t1"))
        assertRejected(request(protocolId: ""), .unsupportedVersion, tag: utf8("t1"))
        assertRejected(request(protocolId: "baton/1"), .unsupportedVersion, tag: utf8("t1"))
        assertRejected(request(protocolId: "BATON-W/1"), .unsupportedVersion, tag: utf8("t1"))
        assertRejected(request(protocolId: "BATON/1 "), .unsupportedVersion, tag: utf8("t1"))
    }

    func testCheck3OtherVersionIsUnsupportedVersionNamingIt() {
        assertRejected(request(protocolId: "BATON/2", tag: "p9"), .unsupportedVersion,
                       "protocol version \"BATON/2\" is not supported; this broker speaks BATON/1", tag: utf8("p9"))
        assertRejected(request(protocolId: "BATON/10"), .unsupportedVersion,
                       "protocol version \"BATON/10\" is not supported; this broker speaks BATON/1", tag: utf8("t1"))
    }

    func testUnsupportedVersionMessageQuotesAtMost32Bytes() {
        let long = "BATON/" + String(repeating: "9", count: 100)
        guard let r = rejection(request(protocolId: long)) else { return }
        XCTAssertEqual(r.error.message, "protocol version \"\(long.prefix(32))\" is not supported; this broker speaks BATON/1")
    }

    func testCheck4WrongFrameCountIsBadRequest() {
        let four = Array(request().prefix(4))
        assertRejected(four, .badRequest,
                       "a request has 5 frames (delimiter, protocol, command, tag, body); got 4", tag: utf8("t1"))
        let six = request() + [utf8("extra")]
        assertRejected(six, .badRequest,
                       "a request has 5 frames (delimiter, protocol, command, tag, body); got 6", tag: utf8("t1"))
        assertRejected(frames("", "BATON/1"), .badRequest,
                       "a request has 5 frames (delimiter, protocol, command, tag, body); got 2", tag: [])
        assertRejected(frames("", "BATON/1", "PING"), .badRequest, tag: [])
    }

    func testCheck5TagOver64BytesIsBadRequestWithEmptyTag() {
        var f = request()
        f[3] = [UInt8](repeating: 0x41, count: ClientFrames.maxTagBytes + 1)
        assertRejected(f, .badRequest, "tag is 65 bytes; at most 64 allowed", tag: [])
    }

    func testCheck6UnknownCommand() {
        assertRejected(request(command: "FROB"), .unknownCommand, "unknown command \"FROB\"", tag: utf8("t1"))
        assertRejected(request(command: "ping"), .unknownCommand, "unknown command \"ping\"", tag: utf8("t1"))
        assertRejected(request(command: ""), .unknownCommand, "unknown command \"\"", tag: utf8("t1"))
        // Reply commands are not request commands.
        assertRejected(request(command: "PONG"), .unknownCommand, tag: utf8("t1"))
        assertRejected(request(command: "ERROR"), .unknownCommand, tag: utf8("t1"))
    }

    func testCheck7BodyNotUTF8() {
        var f = request()
        f[4] = [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D]  // {"a":"\xC3("}
        assertRejected(f, .badRequest, "body is not valid UTF-8", tag: utf8("t1"))
    }

    func testCheck7BodyNotJSON() {
        assertRejected(request(body: "{\"a\":}"), .badRequest, "body: invalid JSON at byte 5: unexpected character",
                       tag: utf8("t1"))
        assertRejected(request(body: ""), .badRequest, "body: invalid JSON at byte 0: unexpected end of input",
                       tag: utf8("t1"))
        assertRejected(request(body: #"{"a":1,"a":2}"#), .badRequest,
                       "body: invalid JSON at byte 12: duplicate key \"a\"", tag: utf8("t1"))
        let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        assertRejected(request(body: "{\"a\":\(deep)}"), .badRequest,
                       "body: invalid JSON at byte 68: nesting deeper than 64", tag: utf8("t1"))
    }

    func testCheck7BodyNotAnObject() {
        assertRejected(request(body: "[]"), .badRequest, "body must be a JSON object, got an array", tag: utf8("t1"))
        assertRejected(request(body: "\"{}\""), .badRequest, "body must be a JSON object, got a string", tag: utf8("t1"))
        assertRejected(request(body: "null"), .badRequest, "body must be a JSON object, got null", tag: utf8("t1"))
        assertRejected(request(body: "3"), .badRequest, "body must be a JSON object, got a number", tag: utf8("t1"))
    }

    func testCheck8TooLarge() {
        let f = request(body: #"{"pad":"xxxxxxxxxx"}"#)
        let size = f.reduce(0) { $0 + $1.count }
        assertRejected(f, .tooLarge, "message is \(size) bytes; the limit is \(size - 1)", tag: utf8("t1"),
                       maxBytes: size - 1)
    }

    // MARK: Precedence: the first failing check is the one reported

    func testBadDelimiterWinsOverEverything() {
        assertRejected(frames("x", "ZMTP/1", "NOPE", "t1"), .badRequest, "frame 0 must be the empty delimiter",
                       tag: utf8("t1"))
    }

    func testBadProtocolWinsOverFrameCountCommandAndBody() {
        assertRejected(request(protocolId: "ZMTP/1", command: "NOPE", body: "[]"), .unsupportedVersion, tag: utf8("t1"))
        assertRejected(frames("", "BATON/2", "PING", "t1", "{}", "extra"), .unsupportedVersion, tag: utf8("t1"))
        assertRejected(frames("", "BATON/2"), .unsupportedVersion, tag: [])
    }

    func testFrameCountWinsOverTagAndCommand() {
        var f = request(command: "NOPE") + [[]]
        f[3] = [UInt8](repeating: 0, count: 100)
        assertRejected(f, .badRequest, "a request has 5 frames (delimiter, protocol, command, tag, body); got 6", tag: [])
    }

    func testTagWinsOverCommand() {
        var f = request(command: "NOPE")
        f[3] = [UInt8](repeating: 0, count: 65)
        assertRejected(f, .badRequest, "tag is 65 bytes; at most 64 allowed", tag: [])
    }

    func testCommandWinsOverBody() {
        assertRejected(request(command: "NOPE", body: "not json"), .unknownCommand, tag: utf8("t1"))
    }

    func testCommandWinsOverSize() {
        assertRejected(request(command: "NOPE", body: "{}"), .unknownCommand, tag: utf8("t1"), maxBytes: 1)
    }

    /// Spec §4.2: check 7 (the size) comes before check 8 (the body): an oversized
    /// request is refused without parsing its body.
    func testSizeIsCheckedBeforeTheBodyIsParsed() {
        assertRejected(request(body: "[1,2,3,4,5,6,7,8,9]"), .tooLarge, tag: utf8("t1"), maxBytes: 10)
    }

    // MARK: Encoding

    func testEncodeRequestExactFrames() {
        XCTAssertEqual(ClientFrames.encodeRequest(.ping), frames("", "BATON/1", "PING", "", "{}"))
        XCTAssertEqual(
            ClientFrames.encodeRequest(.watch, tag: utf8("c1-0003"), body: ["wait_ms": 30000, "id": "01J", "after": 0]),
            frames("", "BATON/1", "WATCH", "c1-0003", #"{"after":0,"id":"01J","wait_ms":30000}"#))
    }

    func testEncodeReplyExactFrames() {
        XCTAssertEqual(
            ClientFrames.encodeReply(.id, tag: utf8("c1-0001"), body: ["state": "SUBMITTED", "id": "01J", "duplicate": false]),
            frames("", "BATON/1", "ID", "c1-0001", #"{"duplicate":false,"id":"01J","state":"SUBMITTED"}"#))
        let err = WireError(.unsupportedVersion, "protocol version \"BATON/2\" is not supported; this broker speaks BATON/1")
        XCTAssertEqual(
            ClientFrames.encodeReply(.error, tag: utf8("p9"), body: err.body),
            frames("", "BATON/1", "ERROR", "p9",
                   #"{"code":"unsupported_version","message":"protocol version \"BATON/2\" is not supported; this broker speaks BATON/1"}"#))
    }

    func testEncodedRequestDecodes() throws {
        let body: JSONValue = ["workflow": ["name": "w"], "idempotency_key": "k"]
        let f = ClientFrames.encodeRequest(.submit, tag: [0, 1, 2], body: body)
        XCTAssertEqual(try ClientFrames.decodeRequest(f[...]),
                       ClientFrames.Request(command: .submit, tag: [0, 1, 2], body: body.objectValue!))
    }

    // MARK: Replies

    func testDecodeReplyWithDelimiter() throws {
        let f = ClientFrames.encodeReply(.pong, tag: utf8("t"), body: ["time": "2026-11-28T12:07:19.001Z"])
        let r = try ClientFrames.decodeReply(f)
        XCTAssertEqual(r.command, .pong)
        XCTAssertEqual(r.tag, utf8("t"))
        XCTAssertEqual(r.body, ["time": "2026-11-28T12:07:19.001Z"])
    }

    func testDecodeReplyWithoutDelimiterAsREQReceivesIt() throws {
        let f = Array(ClientFrames.encodeReply(.ok, tag: [], body: [:]).dropFirst())
        XCTAssertEqual(f.count, 4)
        let r = try ClientFrames.decodeReply(f, hasDelimiter: false)
        XCTAssertEqual(r.command, .ok)
        XCTAssertEqual(r.tag, [])
        XCTAssertEqual(r.body, [:])
        // The same four frames with hasDelimiter: true are too few.
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(f) }?.code, .badRequest)
    }

    func testEveryReplyCommandDecodes() throws {
        for c in ReplyCommand.allCases {
            XCTAssertEqual(try ClientFrames.decodeReply(ClientFrames.encodeReply(c, tag: [], body: [:])).command, c)
        }
    }

    func testDecodeReplyErrors() {
        let good = ClientFrames.encodeReply(.ok, tag: [], body: [:])
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(Array(good.prefix(4))) },
                       WireError(.badRequest, "a reply has 5 frames; got 4"))
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(good + [[]]) },
                       WireError(.badRequest, "a reply has 5 frames; got 6"))
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(frames("x", "BATON/1", "OK", "", "{}")) }?.code, .badRequest)
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(frames("", "BATON/2", "OK", "", "{}")) },
                       WireError(.unsupportedVersion, "reply protocol is not BATON/1"))
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(frames("", "BATON/1", "PING", "", "{}")) },
                       WireError(.unknownCommand, "unknown reply command \"PING\""))
        XCTAssertEqual(wireError { try ClientFrames.decodeReply(frames("", "BATON/1", "OK", "", "[]")) },
                       WireError(.badRequest, "body must be a JSON object, got an array"))
    }

    // MARK: decodeBody and WireError

    func testDecodeBody() throws {
        XCTAssertEqual(try decodeBody(utf8(#" {"a" : [1, 2.5, "é"]} "#)), ["a": [1, .double(2.5), "é"]])
        XCTAssertEqual(wireError { try decodeBody([0xFF]) }, WireError(.badRequest, "body is not valid UTF-8"))
        XCTAssertEqual(wireError { try decodeBody(utf8("{} {}")) },
                       WireError(.badRequest, "body: invalid JSON at byte 3: unexpected data after the value"))
    }

    func testWireErrorBodyAndDescription() {
        let e = WireError(.notFound, "no workflow 01J")
        XCTAssertEqual(JSONWriter.string(e.body), #"{"code":"not_found","message":"no workflow 01J"}"#)
        XCTAssertEqual(e.description, "not_found: no workflow 01J")
    }

    func testErrorCodesAreTheSpecsTable() {
        XCTAssertEqual(ErrorCode.allCases.map(\.rawValue), [
            "bad_request", "unsupported_version", "unknown_command", "too_large", "not_found", "conflict",
            "policy_denied", "stopped", "forbidden", "unavailable", "rate_limited",
        ])
    }

    /// A routed reply is the routing id and then `encodeReply`'s frames, for every
    /// command; each command's shared frame is its name's bytes.
    func testARoutedReplyIsThePeerThenTheReply() {
        for command in ReplyCommand.allCases {
            XCTAssertEqual(command.frame, Array(command.rawValue.utf8))
            let peer: [UInt8] = [0, 0x80, 0, 0x41, 0xA7]
            XCTAssertEqual(ClientFrames.routedReply(to: peer, command, tag: utf8("t1"), bodyBytes: utf8("{}")),
                           [peer] + ClientFrames.encodeReply(command, tag: utf8("t1"), bodyBytes: utf8("{}")))
            XCTAssertEqual(ClientFrames.encodeReply(command, tag: [], bodyBytes: utf8("{}"))[2], Array(command.rawValue.utf8))
        }
    }
}
