import BatonWire
import Foundation
import GRDB
import GRDBSQLite
import XCTest

@testable import BatonStore

/// The broker's way of opening its database: one owner (locked against a second broker),
/// a read-only second connection beside it, and several turns applied in one transaction.
final class StoreAccessTests: XCTestCase {
    /// The first store of a process turns SQLite's memory statistics off (the mutex and
    /// counters around each of its mallocs), and SQLite then counts nothing; in a process
    /// that used SQLite before any store, the setting stays as it was, counting.
    func testSQLiteCountsNoMemoryWhenTheStoreTurnedItsStatisticsOff() throws {
        let store = try Store(path: nil)
        let before = sqlite3_memory_used()
        try store.db.write { db in
            try db.execute(sql: "CREATE TABLE big (x); INSERT INTO big VALUES (zeroblob(200000))")
            _ = try Row.fetchAll(db, sql: "SELECT x FROM big")
        }
        let after = sqlite3_memory_used()
        switch Store.sqliteMemoryStatistics {
        case .off: XCTAssertEqual(after, before, "statistics off: nothing is counted")
        case .on: XCTAssertGreaterThan(sqlite3_memory_highwater(0), before, "statistics on: the 200 KB row was counted")
        }
    }

    func testASecondOwnerOfTheSameFileIsRefused() throws {
        try withTemporaryDatabase { path in
            let owner = try Store(path: path, access: .owner)
            XCTAssertThrowsError(try Store(path: path, access: .owner)) { error in
                XCTAssertTrue("\(error)".contains("is a broker already running"), "\(error)")
            }
            // Nor may a tool write under the broker; once the broker is gone it may.
            XCTAssertThrowsError(try Store(path: path)) { error in
                XCTAssertTrue("\(error)".contains("a broker is running"), "\(error)")
            }
            try owner.close()
            XCTAssertEqual(try Store(path: path).integrityCheck(), "ok")
        }
    }

    func testTheLockGoesWithItsOwner() throws {
        try withTemporaryDatabase { path in
            do { _ = try Store(path: path, access: .owner) }
            XCTAssertNoThrow(try Store(path: path, access: .owner))
        }
    }

    func testAReaderSeesEachCommitOfTheOwnerAndCannotWrite() throws {
        try withTemporaryDatabase { path in
            let owner = try Store(path: path, access: .owner)
            let reader = try Store(path: path, access: .reader)
            XCTAssertNil(try reader.workflow(idempotencyKey: "k1"))
            let (w, e) = Fixture.submitted("01JA", key: "k1")
            try owner.apply(Fixture.insert((w, e)))
            XCTAssertEqual(try reader.workflow(idempotencyKey: "k1"), w)
            XCTAssertThrowsError(try reader.apply(Fixture.insert(Fixture.submitted("01JB"))))
            XCTAssertNil(try owner.workflow(id: "01JB"))
        }
    }

    func testTheLockFollowsTheRealPathOfTheDatabase() throws {
        try withTemporaryDatabase { path in
            let owner = try Store(path: path, access: .owner)
            let dir = (path as NSString).deletingLastPathComponent
            let link = dir + "/link.sqlite"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
            XCTAssertThrowsError(try Store(path: link, access: .owner), "a symlink names the same database")
            XCTAssertThrowsError(try Store(path: dir + "/./baton.sqlite", access: .owner))
            _ = owner
        }
    }

    func testAReaderNeedsAFile() {
        XCTAssertThrowsError(try Store(path: nil, access: .reader))
    }

    func testSeveralBatchesCommitTogetherInOrder() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA")
            var running = w
            running.state = .running
            running.lastEvent = 2
            var second = WriteBatch()
            second.updated = [running]
            second.events = [(w.id, EventRow(seq: 2, at: Fixture.t0, kind: .workflowRunning))]
            // The second batch updates a row the first inserts: only in order can it apply.
            try store.apply([Fixture.insert((w, e)), second])
            XCTAssertEqual(try store.workflow(id: w.id)?.state, .running)
            XCTAssertEqual(try store.events(workflowId: w.id, after: 0, limit: 10).map(\.seq), [1, 2])
        }
    }

    func testAFailingBatchUndoesTheBatchesBeforeItInTheSameCommit() throws {
        try onEveryStore { store, _ in
            var orphan = WriteBatch()
            var ghost = Fixture.submitted("01JZ").0
            ghost.state = .running
            orphan.updated = [ghost]  // no such row: the store refuses the update
            XCTAssertThrowsError(try store.apply([Fixture.insert(Fixture.submitted("01JA")), orphan]))
            XCTAssertNil(try store.workflow(id: "01JA"))
            XCTAssertEqual(try store.integrityCheck(), "ok")
        }
    }
}
