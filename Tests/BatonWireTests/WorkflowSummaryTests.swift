import BatonWire
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
