import XCTest

@testable import BatonWire

/// `eventsReplyBytes` must give exactly the bytes of the tree it replaces, for every
/// kind of event and field.
final class WorkflowEventBytesTests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()

    private func randomValue(_ depth: Int = 0) -> JSONValue {
        let leaves: [JSONValue] = [.null, true, false, .int(0), .int(-7), .int(Int64.max), .double(2.5), .string(""),
                                   .string("déploiement ✓"), .string("quote \" and \\ and \n\u{1}")]
        guard depth < 2, Bool.random(using: &rng) else { return leaves.randomElement(using: &rng)! }
        if Bool.random(using: &rng) { return .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in randomValue(depth + 1) }) }
        return .object(Dictionary((0..<Int.random(in: 0...3, using: &rng)).map { ("k\($0)", randomValue(depth + 1)) },
                                  uniquingKeysWith: { a, _ in a }))
    }

    /// Field names around and equal to the event's own keys ("at", "kind", "seq"), the
    /// real ones, and some that sort before, between and after them.
    private static let names = ["a", "at", "atx", "attempt", "block", "details", "error", "job", "job_id", "kind", "kinds",
                                "name", "reason", "retry_at", "s", "seq", "seqs", "worker", "z", "É", ""]

    private func randomEvent(_ seq: Int64) -> WorkflowEvent {
        var fields: [String: JSONValue] = [:]
        for _ in 0..<Int.random(in: 0...6, using: &rng) { fields[Self.names.randomElement(using: &rng)!] = randomValue() }
        return WorkflowEvent(seq: seq, at: Int64.random(in: 0...1_900_000_000_000, using: &rng),
                             kind: EventKind.allCases.randomElement(using: &rng)!, fields: fields)
    }

    /// Each kind's literal is the writer's string of its raw value (a kind added without
    /// its literal, or with a typo, fails here).
    func testEveryKindsLiteralIsItsNameAsAJSONString() {
        for kind in EventKind.allCases {
            kind.quotedJSON.withUTF8Buffer { XCTAssertEqual(Array($0), JSONWriter.bytes(.string(kind.rawValue)), kind.rawValue) }
        }
    }

    func testTheBytesAreTheTrees() {
        for _ in 0..<2000 {
            let events = (0..<Int.random(in: 0...5, using: &rng)).map { randomEvent(Int64($0) + 1) }
            let id = ["01JA", "", "id \"quoted\""].randomElement(using: &rng)!
            let state = WorkflowState.allCases.randomElement(using: &rng)!
            let tree = JSONWriter.bytes(["id": .string(id), "state": .string(state.rawValue), "events": .array(events.map(\.json))])
            let direct = WorkflowEvent.eventsReplyBytes(id: id, state: state, events: events)
            if direct != tree {
                return XCTFail("\(String(decoding: direct, as: UTF8.self))\n!=\n\(String(decoding: tree, as: UTF8.self))")
            }
        }
    }

    /// A stored event's fields copied as they are (`writeJSON(seq:at:kind:fields:into:)`)
    /// give the bytes of the parsed event's `writeJSON`, field names around and equal to
    /// the event's own keys included; fields the writer would not have written (a
    /// non-ASCII key here) give false and leave the output as it was.
    func testStoredFieldsCopyAsTheParsedEventWrites() {
        var copied = 0
        for _ in 0..<2000 {
            let event = randomEvent(Int64.random(in: 1...1_000_000, using: &rng))
            let stored = JSONWriter.bytes(.object(event.fields))
            var expected: [UInt8] = Array("x,".utf8)
            event.writeJSON(into: &expected)
            var out: [UInt8] = Array("x,".utf8)
            let ok = stored.withUnsafeBytes {
                WorkflowEvent.writeJSON(seq: event.seq, at: event.at, kind: event.kind, fields: $0, into: &out)
            }
            if event.fields.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) {
                XCTAssertTrue(ok, String(decoding: stored, as: UTF8.self))
                XCTAssertEqual(String(decoding: out, as: UTF8.self), String(decoding: expected, as: UTF8.self))
                copied += 1
            } else {
                XCTAssertFalse(ok, String(decoding: stored, as: UTF8.self))
                XCTAssertEqual(out, Array("x,".utf8), "nothing written when it gives up")
            }
        }
        XCTAssertGreaterThan(copied, 1000)
    }

    /// Fields not as the writer writes them are not copied: the caller parses them.
    func testFieldsNotAsWrittenAreNotCopied() {
        for text in [#"{"b":1,"a":2}"#, #"{"a":1,"a":2}"#, #"{ "a":1}"#, #"{"a" :1}"#, #"{"a":1 }"#, #"{"a\u0062":1}"#,
                     #"{"é":1}"#, #"{"a":}"#, #"{"a":1,}"#, #"{"a":[1,}"#, #"{"a":"x}"#, #"{"a":01}"#, #"{"a":1}x"#,
                     #"["a"]"#, "{", "", #"{"a":tru}"#, #"{"a":"\q"}"#, #"{"a":{"b":1}"#] {
            var out: [UInt8] = [1, 2]
            let ok = Array(text.utf8).withUnsafeBytes {
                WorkflowEvent.writeJSON(seq: 1, at: 0, kind: .jobDispatched, fields: $0, into: &out)
            }
            XCTAssertFalse(ok, text)
            XCTAssertEqual(out, [1, 2], text)
        }
        var out: [UInt8] = []
        XCTAssertTrue(Array(#"{"a":{"y":[1,2.5e3,"\u00e9\n"],"x":null},"kinds":-0.5}"#.utf8).withUnsafeBytes {
            WorkflowEvent.writeJSON(seq: 3, at: 0, kind: .jobDispatched, fields: $0, into: &out)
        }, "values are copied as they are, whatever they hold")
        XCTAssertEqual(String(decoding: out, as: UTF8.self),
                       #"{"a":{"y":[1,2.5e3,"\u00e9\n"],"x":null},"at":"1970-01-01T00:00:00.000Z","kind":"job.dispatched","kinds":-0.5,"seq":3}"#)
    }

    func testAJobEventReadsAsTheSpecShowsIt() {
        let event = WorkflowEvent(seq: 4, at: 0, kind: .jobDispatched,
                                  fields: ["block": 0, "job": 0, "job_id": "w.0.0", "attempt": 1, "worker": "w1"])
        XCTAssertEqual(String(decoding: WorkflowEvent.eventsReplyBytes(id: "w", state: .running, events: [event]), as: UTF8.self),
                       #"{"events":[{"at":"1970-01-01T00:00:00.000Z","attempt":1,"block":0,"job":0,"job_id":"w.0.0","kind":"job.dispatched","seq":4,"worker":"w1"}],"id":"w","state":"RUNNING"}"#)
    }
}
