import BatonWire
import Foundation
import GRDB
import XCTest

@testable import BatonStore

/// Reads that build a record from several statements see one commit, never a mix.
final class StoreSnapshotTests: XCTestCase {
    func testEventsPageReadsTheStateWithTheEvents() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA")
            try store.apply(Fixture.insert((w, e)))
            let page = try XCTUnwrap(try store.eventsPage(workflowId: "01JA", after: 0, limit: 10))
            XCTAssertEqual(page.state, .submitted)
            XCTAssertEqual(page.events, [e])
            XCTAssertEqual(try store.eventsPage(workflowId: "01JA", after: 1, limit: 10)?.events, [])
            XCTAssertNil(try store.eventsPage(workflowId: "nope", after: 0, limit: 10))
        }
    }

    /// A writer moves a workflow's row and its job's row together, in one transaction per
    /// step (as the broker does); a reader on a second connection reads the record over
    /// and over. Read outside one transaction, the workflow row and the job rows could
    /// come from different commits (`lastEvent` and `attempt` out of step).
    func testARecordReadBesideAWriterIsNeverTorn() throws {
        try withTemporaryDatabase { path in
            let owner = try Store(path: path, access: .owner)
            let reader = try Store(path: path, access: .reader)
            let (first, e) = Fixture.submitted("01JA", key: "k", jobs: [1])
            try owner.apply(Fixture.insert((first, e)))
            let steps = 400
            let writer = Self.startWriter(owner, first, steps: steps)
            var reads = 0, torn = 0
            while reads < 5000 {
                for record in [try reader.workflow(id: "01JA"), try reader.workflow(idempotencyKey: "k")] {
                    guard let r = record else { continue }
                    reads += 1
                    if Int64(r.jobs[0][0].attempt) + 1 != r.lastEvent { torn += 1 }
                }
                if (try reader.workflow(id: "01JA"))?.lastEvent == Int64(steps + 1) && reads > 200 { break }
            }
            while !writer.isFinished { usleep(1000) }
            XCTAssertEqual(torn, 0, "records mixing two commits, out of \(reads) reads")
            XCTAssertEqual(try owner.workflow(id: "01JA")?.jobs[0][0].attempt, steps)
        }
    }

    /// The owner's own reads need no transaction: its writes go through the same queue,
    /// so a read of several statements never sees a commit land between them. Its reads
    /// beside its own writer thread are never torn, and begin no transaction.
    func testTheOwnersReadsBesideItsOwnWritesAreNeverTorn() throws {
        try withTemporaryDatabase { path in
            let owner = try Store(path: path, access: .owner)
            defer { try? owner.close() }
            let (first, e) = Fixture.submitted("01JA", key: "k", jobs: [1])
            try owner.apply(Fixture.insert((first, e)))
            let steps = 300
            let writer = Self.startWriter(owner, first, steps: steps)
            var reads = 0, torn = 0
            while !writer.isFinished || reads < 200 {
                for record in [try owner.workflow(id: "01JA"), try owner.workflow(idempotencyKey: "k")] {
                    guard let r = record else { continue }
                    reads += 1
                    if Int64(r.jobs[0][0].attempt) + 1 != r.lastEvent { torn += 1 }
                }
                if let page = try owner.eventsPage(workflowId: "01JA", after: 0, limit: 1000) {
                    reads += 1
                    if page.events.count != Int(page.events.last?.seq ?? 0) { torn += 1 }
                }
            }
            XCTAssertEqual(torn, 0, "reads mixing two commits, out of \(reads)")
            XCTAssertEqual(try owner.workflow(id: "01JA")?.jobs[0][0].attempt, steps)
            let compiled = owner.compiledStatements().map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            XCTAssertFalse(compiled.contains("BEGIN DEFERRED TRANSACTION"), "the owner's reads began a transaction")
            XCTAssertTrue(compiled.contains("BEGIN IMMEDIATE TRANSACTION"), "its writes still do")
        }
    }

    /// A thread that moves `first`'s row and its job's row together, one commit per step,
    /// as the broker does: at step n, `lastEvent` n + 1 (with that event) and attempt n.
    private static func startWriter(_ owner: Store, _ first: WorkflowRecord, steps: Int) -> Thread {
        let writer = Thread {
            var w = first
            for step in 1...steps {
                var batch = WriteBatch()
                w.lastEvent = Int64(step + 1)
                w.jobs[0][0].attempt = step
                batch.updated = [w]
                batch.jobs = [(w.id, 0, 0, w.jobs[0][0])]
                batch.events = [(w.id, EventRow(seq: Int64(step + 1), at: Fixture.t0, kind: .jobDispatched))]
                try? owner.apply(batch)
            }
        }
        writer.start()
        return writer
    }

    func testABindThatSQLiteRefusesThrowsInsteadOfWritingTheOldValue() throws {
        let store = try Store(path: nil)
        try store.db.inDatabase { db in
            let stmt = RawStatement(try db.cachedStatement(sql: "SELECT ?"), db)
            XCTAssertNoThrow(try stmt.bind(1, 7))
            XCTAssertThrowsError(try stmt.bind(2, 7), "index 2 of a statement with one parameter") { error in
                XCTAssertEqual((error as? DatabaseError)?.resultCode, .SQLITE_RANGE)
            }
            XCTAssertThrowsError(try stmt.bind(0, "text"))
        }
    }
}

final class StoreStartTimesTests: XCTestCase {
    func testStartTimesOfANameSinceATime() throws {
        try onEveryStore { store, _ in
            var batch = WriteBatch()
            for (i, (name, started)) in [("erase", Int64?(100)), ("erase", 300), ("erase", nil), ("other", 200), ("erase", 250)].enumerated() {
                var (w, e) = Fixture.submitted("01J\(i)", name: name)
                if let started {
                    w.state = .running
                    w.startedAt = started
                }
                batch.inserted.append(w)
                batch.events.append((w.id, EventRow(e)))
            }
            try store.apply(batch)
            XCTAssertEqual(try store.startTimes(name: "erase", since: 0), [100, 250, 300])
            XCTAssertEqual(try store.startTimes(name: "erase", since: 250), [250, 300])
            XCTAssertEqual(try store.startTimes(name: "nobody", since: 0), [])
        }
    }
}
