@testable import BatonWire
import XCTest

final class WorkflowSummaryTests: XCTestCase {
    private let t0: Int64 = 1_795_867_638_123  // 2026-11-28T12:07:18.123Z

    func testExactBytesAndRoundTripWithEveryField() throws {
        let s = WorkflowSummary(id: "01J", name: "hello", state: .failed, reason: "boom", submittedAt: t0,
                                startedAt: t0 + 1, finishedAt: t0 + 2)
        XCTAssertEqual(JSONWriter.string(s.json), """
            {"finished_at":"2026-11-28T12:07:18.125Z","id":"01J","name":"hello","reason":"boom",\
            "started_at":"2026-11-28T12:07:18.124Z","state":"FAILED","submitted_at":"2026-11-28T12:07:18.123Z"}
            """)
        XCTAssertEqual(try WorkflowSummary(json: try decodeBody(JSONWriter.bytes(s.json))), s)
    }

    func testRoundTripWithoutOptionals() throws {
        let s = WorkflowSummary(id: "01J", name: "hello", state: .submitted, reason: nil, submittedAt: t0, startedAt: nil, finishedAt: nil)
        XCTAssertEqual(JSONWriter.string(s.json), #"{"id":"01J","name":"hello","state":"SUBMITTED","submitted_at":"2026-11-28T12:07:18.123Z"}"#)
        XCTAssertEqual(try WorkflowSummary(json: s.json.objectValue!), s)
    }

    /// A summary of any shape: optional members present or not, texts with escapes and
    /// non-ASCII, instants in and outside four-digit years.
    private func randomSummary(_ r: RandomSpecs) -> WorkflowSummary {
        func instant() -> Int64 { [t0, 0, -1, 253_402_300_800_000, Int64.random(in: 0...(Int64(1) << 44))].randomElement()! }
        return WorkflowSummary(id: r.text(), name: r.text(), state: WorkflowState.allCases.randomElement()!, reason: r.maybe(r.text()),
                               submittedAt: instant(), startedAt: r.maybe(instant()), finishedAt: r.maybe(instant()),
                               owner: r.maybe(r.text()))
    }

    func testTheRowBytesAreTheTrees() {
        let r = RandomSpecs()
        for _ in 0..<500 {
            let s = randomSummary(r)
            var out = Array("[".utf8)
            s.writeJSON(into: &out)
            XCTAssertEqual(out, Array("[".utf8) + JSONWriter.bytes(s.json), "\(s)")
        }
    }

    /// LIST's reply body, written in bytes, against the object the broker used to build:
    /// empty pages, pages of many, with a `next` cursor or without.
    func testTheListReplyBytesAreTheTrees() {
        let r = RandomSpecs()
        for n in [0, 1, 2, 7, 100] {
            for next in [nil, "01J", "quote \" ✓"] {
                let rows = (0..<n).map { _ in randomSummary(r) }
                var tree: [String: JSONValue] = ["workflows": .array(rows.map(\.json))]
                if let next { tree["next"] = .string(next) }
                XCTAssertEqual(WorkflowSummary.listReplyBytes(rows, next: next), JSONWriter.bytes(.object(tree)), "\(n) \(String(describing: next))")
            }
        }
    }

    func testABadRowNamesTheField() {
        let cases: [(JSONValue, String)] = [
            (["name": "a", "state": "RUNNING", "submitted_at": "2026-11-28T12:07:18.123Z"], "id"),
            (["id": "01J", "name": "a", "state": "DANCING", "submitted_at": "2026-11-28T12:07:18.123Z"], "state"),
            (["id": "01J", "name": "a", "state": "RUNNING"], "submitted_at"),
            (["id": "01J", "name": "a", "state": "RUNNING", "submitted_at": "yesterday"], "submitted_at"),
        ]
        for (row, field) in cases {
            XCTAssertThrowsError(try WorkflowSummary(json: row.objectValue!)) { error in
                XCTAssertEqual((error as? WireError)?.code, .badRequest)
                XCTAssertTrue((error as? WireError)?.message.hasPrefix(field) ?? false, "\(error)")
            }
        }
    }
}
