import BatonWire
import Foundation
import GRDB
import XCTest

@testable import BatonStore

/// Retention and backup at the store: `deleteFinished` takes only final workflows that
/// finished before the cutoff, oldest first, with their jobs, events and key; `backup`
/// writes a consistent copy that opens as a store.
final class StoreRetentionTests: XCTestCase {
    private let t0 = Fixture.t0

    /// A workflow inserted, then moved to `state` at `finishedAt` (nil: left unfinished).
    private func stored(_ store: Store, _ id: String, key: String? = nil, _ state: WorkflowState, finishedAt: Int64?) throws {
        var (w, e) = Fixture.submitted(id, key: key)
        try store.apply(Fixture.insert((w, e)))
        w.state = state
        w.finishedAt = finishedAt
        w.lastEvent = 2
        var batch = WriteBatch()
        batch.updated = [w]
        // Its jobs ran (a job's row is written from its first change on).
        for (b, jobs) in w.jobs.enumerated() {
            for j in jobs.indices {
                batch.jobs.append((id, b, j, JobRecord(state: .succeeded, attempt: 1, startedAt: t0, finishedAt: finishedAt)))
            }
        }
        batch.events = [(id, EventRow(seq: 2, at: finishedAt ?? t0, kind: .workflowSucceeded))]
        try store.apply(batch)
    }

    func testOnlyFinalWorkflowsFinishedBeforeTheCutoffGoOldestFirst() throws {
        try onEveryStore { store, _ in
            try stored(store, "01OLD1", key: "k-old", .succeeded, finishedAt: t0 + 1)
            try stored(store, "01OLD2", .failed, finishedAt: t0 + 2)
            try stored(store, "01OLD3", .cancelled, finishedAt: t0 + 3)
            try stored(store, "01NEW", .expired, finishedAt: t0 + 100)
            try stored(store, "01RUN", .running, finishedAt: nil)
            try stored(store, "01STOP", .stopped, finishedAt: nil)

            XCTAssertEqual(try store.deleteFinished(before: t0 + 50, limit: 2).deleted, 2, "the limit holds")
            XCTAssertNil(try store.workflow(id: "01OLD1"), "oldest first")
            XCTAssertNil(try store.workflow(id: "01OLD2"))
            XCTAssertNotNil(try store.workflow(id: "01OLD3"))
            XCTAssertEqual(try store.deleteFinished(before: t0 + 50, limit: 2).deleted, 1, "fewer than the limit: none left")
            XCTAssertEqual(try store.deleteFinished(before: t0 + 50, limit: 2).deleted, 0)
            XCTAssertNil(try store.workflow(idempotencyKey: "k-old"), "the key goes with its workflow")
            XCTAssertEqual(try store.events(workflowId: "01OLD1", after: 0, limit: 10), [], "its events too")
            XCTAssertEqual(Set(try store.countByState().filter { $0.value > 0 }.keys), [.expired, .running, .stopped])
        }
    }

    /// The committer's deleting transaction goes chunk by chunk and stops when asked
    /// (a turn is waiting): what it deleted is committed, the rest stays for later.
    func testADeletionGoesByChunksAndStopsWhenAsked() throws {
        try onEveryStore { store, _ in
            for i in 0..<7 { try stored(store, "01OLD\(i)", .succeeded, finishedAt: t0 + Int64(i)) }
            var asked = 0
            let first = try store.deleteFinished(before: t0 + 50, limit: 100, chunk: 2) {
                asked += 1
                return asked < 2
            }
            XCTAssertEqual(first.deleted, 4, "two chunks of two, then told to stop")
            XCTAssertFalse(first.noneLeft)
            XCTAssertNil(try store.workflow(id: "01OLD3"))
            XCTAssertNotNil(try store.workflow(id: "01OLD4"), "oldest first, the rest kept")
            let rest = try store.deleteFinished(before: t0 + 50, limit: 100, chunk: 2)
            XCTAssertEqual(rest.deleted, 3)
            XCTAssertTrue(rest.noneLeft, "the last chunk found fewer than two")
            let capped = try store.deleteFinished(before: t0 + 50, limit: 100, chunk: 2)
            XCTAssertEqual(capped.deleted, 0)
            XCTAssertTrue(capped.noneLeft)
        }
    }

    func testJobRowsAreDeletedWithTheirWorkflow() throws {
        try withTemporaryDatabase { path in
            let store = try Store(path: path)
            try stored(store, "01GONE", .succeeded, finishedAt: t0)
            try stored(store, "01KEPT", .succeeded, finishedAt: t0 + 10)
            XCTAssertEqual(try store.deleteFinished(before: t0 + 5, limit: 100).deleted, 1)
            let jobs = try store.db.read { try String.fetchAll($0, sql: "SELECT DISTINCT w.id FROM jobs j JOIN workflows w ON w.seq = j.workflow") }
            XCTAssertEqual(jobs, ["01KEPT"])
            XCTAssertEqual(try store.integrityCheck(), "ok")
            XCTAssertEqual(try store.schemaVersion(), Schema.currentVersion)
        }
    }

    func testABackupIsAConsistentStoreAndNeverOverwrites() throws {
        try withTemporaryDatabase { path in
            let store = try Store(path: path, access: .owner)
            try stored(store, "01DONE", key: "k", .succeeded, finishedAt: t0)
            try stored(store, "01LIVE", .running, finishedAt: nil)
            let reader = try Store(path: path, access: .reader)
            let copy = path + ".backup"
            let size = try reader.backup(to: copy)
            XCTAssertEqual(size, Int64(try FileManager.default.attributesOfItem(atPath: copy)[.size] as! Int))
            XCTAssertThrowsError(try reader.backup(to: copy), "a second backup to the same file")
            let restored = try Store(path: copy)
            XCTAssertEqual(try restored.workflow(id: "01DONE"), try store.workflow(id: "01DONE"))
            XCTAssertEqual(try restored.loadActive().map(\.id), ["01LIVE"])
            XCTAssertEqual(try restored.integrityCheck(), "ok")
        }
    }
}
