import BatonWire
import XCTest

@testable import BatonStore

/// The stored form of events (schema v7): a commit's events of one workflow in one row.
final class FoldedEventsTests: XCTestCase {
    private func row(_ seq: Int64, _ kind: EventKind = .jobDispatched, _ fields: [String: JSONValue] = [:]) -> EventRow {
        EventRow(seq: seq, at: Fixture.t0 + seq, kind: kind, fields: EventFields(fields))
    }

    /// The `data` of `events` written as one row, through the store's own grouping.
    private func data(_ events: [EventRow]) -> [UInt8] {
        let batch = events.map { (workflowId: "w", event: $0) }
        var out: [UInt8] = []
        FoldedEvents.write(batch, from: 0, next: FoldedEvents.group(batch).next, into: &out)
        return out
    }

    func testABatchFoldsIntoOneRowPerWorkflowAndRunOfSeq() {
        let batch = [("A", row(1)), ("B", row(4)), ("A", row(2)), ("A", row(3)), ("B", row(5)), ("C", row(1)), ("A", row(7)), ("A", row(8))]
        let rows = FoldedEvents.rows(batch.map { (workflowId: $0.0, event: $0.1) })
        XCTAssertEqual(rows.map(\.workflowId), ["A", "B", "C", "A"], "a gap in a workflow's seq (3 → 7) starts a new row")
        XCTAssertEqual(rows.map { $0.events.map(\.seq) }, [[1, 2, 3], [4, 5], [1], [7, 8]])
        XCTAssertEqual(FoldedEvents.rows([]).count, 0)
    }

    func testWhatIsWrittenReadsBackAsTheSameEvents() throws {
        let events = [row(3, .jobDispatched, ["attempt": 1, "job_id": "w.0.0", "worker": "w \"1\" ✓"]),
                      row(4, .jobSucceeded, ["nested": ["a": [1, nil, .double(2.5)]]]), row(5, .workflowSucceeded)]
        let bytes = data(events)
        let read = try readText(String(decoding: bytes, as: UTF8.self), workflowId: "w", first: 3, last: 5)
        XCTAssertEqual(read, events.map { WorkflowEvent(seq: $0.seq, at: $0.at, kind: $0.kind, fields: $0.fields.object) })
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix(#"[[1795867638126,"job.dispatched",{"attempt":1,"job_id""#),
                      "[at, kind, {fields}] per event, the fields as the events of v6 held them")
    }

    func testARowThatDoesNotHoldItsRangeIsReportedCorrupt() {
        let two = data([row(1), row(2)])
        let cases: [(String, Int64, Int64)] = [
            (String(decoding: two, as: UTF8.self), 1, 3), (String(decoding: two, as: UTF8.self), 2, 2), ("{}", 1, 1), ("not json", 1, 1),
            (#"[[1,"job.dispatched"]]"#, 1, 1), (#"[["1","job.dispatched",{}]]"#, 1, 1), (#"[[1,"no.such.kind",{}]]"#, 1, 1),
            (#"[[1,"job.dispatched","not json"]]"#, 1, 1), ("[]", 1, 0),
        ]
        for (data, first, last) in cases {
            XCTAssertThrowsError(try readText(data, workflowId: "w", first: first, last: last), "\(data) \(first)...\(last)") { error in
                guard case StoreError.corrupt = error else { return XCTFail("\(error)") }
            }
        }
        XCTAssertEqual(try readText(#"[[1,"job.dispatched",[]]]"#, workflowId: "w", first: 1, last: 1).first?.fields, [:],
                       "fields that are JSON but not an object read as none, as v6 read them")
    }

    /// `FoldedEvents.read` of a row's text, as SQLite would hand over its bytes.
    private func readText(_ data: String, workflowId: String, first: Int64, last: Int64) throws -> [WorkflowEvent] {
        try Array(data.utf8).withUnsafeBytes { try FoldedEvents.read($0, workflowId: workflowId, first: first, last: last) }
    }
}
