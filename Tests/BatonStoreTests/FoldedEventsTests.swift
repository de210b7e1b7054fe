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

    /// A row as `write` writes it is copied into the WATCH reply (the events after
    /// `after`, up to `limit`, as `WorkflowEvent.writeJSON` writes them); any other row
    /// is parsed and written, with the same bytes; a corrupt one fails as `read` fails.
    func testARowAsWrittenIsCopiedIntoTheReplyOthersAreParsed() throws {
        let events = [row(3, .jobDispatched, ["attempt": 1, "job_id": "w.0.0", "seq": 9, "worker": "w \"1\" ✓"]),
                      row(4, .jobSucceeded, ["at": "x", "nested": ["a": [1, nil, .double(2.5)]]]), row(5, .workflowSucceeded)]
        let written = String(decoding: data(events), as: UTF8.self)
        let reordered = #"[[1,"job.dispatched",{"worker":"w","attempt":1}],[2,"job.succeeded",[]],[3,"block.started", {"block":0}]]"#
        for (text, first, copies) in [(written, Int64(3), true), (reordered, Int64(1), false)] {
            let parsed = try readText(text, workflowId: "w", first: first, last: first + 2)
            for after in (first - 1)...(first + 2) {
                for limit in 1...4 {
                    var expected = Array("x".utf8)
                    for e in parsed.filter({ $0.seq > after }).prefix(limit - 1) {
                        expected.append(UInt8(ascii: ","))
                        e.writeJSON(into: &expected)
                    }
                    var out = Array("x".utf8)
                    var count = 1  // one event already in the reply: the next ones follow a comma
                    let copied = try Array(text.utf8).withUnsafeBytes {
                        try FoldedEvents.writeReply($0, workflowId: "w", first: first, last: first + 2, after: after, limit: limit,
                                                    written: &count, into: &out)
                    }
                    XCTAssertEqual(copied, copies, text)
                    XCTAssertEqual(String(decoding: out, as: UTF8.self), String(decoding: expected, as: UTF8.self), "after \(after) limit \(limit)")
                    XCTAssertEqual(count, 1 + min(limit - 1, parsed.filter { $0.seq > after }.count))
                }
            }
        }
        for (text, first, last) in [(written, Int64(3), Int64(6)), (written, 3, 4), (#"[[1,"no.such.kind",{}]]"#, 1, 1), ("[", 1, 1)] {
            var out: [UInt8] = []
            var count = 0
            XCTAssertThrowsError(try Array(text.utf8).withUnsafeBytes {
                try FoldedEvents.writeReply($0, workflowId: "w", first: first, last: last, after: 0, limit: 10, written: &count, into: &out)
            }, "\(text) \(first)...\(last)") { error in
                guard case StoreError.corrupt = error else { return XCTFail("\(error)") }
            }
        }
    }

    /// `FoldedEvents.read` of a row's text, as SQLite would hand over its bytes.
    private func readText(_ data: String, workflowId: String, first: Int64, last: Int64) throws -> [WorkflowEvent] {
        try Array(data.utf8).withUnsafeBytes { try FoldedEvents.read($0, workflowId: workflowId, first: first, last: last) }
    }
}
