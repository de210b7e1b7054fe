import BatonWire
import Foundation
import Synchronization
import XCTest

@testable import BatonStore

/// Checkpoints off the commit path: once `checkpointElsewhere` is in force the owner's
/// commits never checkpoint (the WAL grows past SQLite's 1,000-page auto-checkpoint),
/// the hook wakes whoever checkpoints, and a `.checkpointer` connection copies the WAL
/// while the owner keeps its lock and keeps committing.
final class StoreCheckpointTests: XCTestCase {
    /// `count` commits of one workflow each.
    private func commit(_ store: Store, from first: Int, count: Int) throws {
        for i in first..<(first + count) {
            // Each commit writes a few pages (its table and index pages) to the WAL.
            try store.apply(Fixture.insert(Fixture.submitted("01CKPT\(i)")))
        }
    }

    private func walBytes(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int) ?? 0
    }

    func testTheOwnerNeverCheckpointsAndTheCheckpointerDoes() throws {
        try withTemporaryDatabase { path in
            let owner = try Store(path: path, access: .owner)
            let wakes = Mutex(0)
            try owner.checkpointElsewhere(atPages: 50) { wakes.withLock { $0 += 1 } }
            try commit(owner, from: 0, count: 1_200)
            XCTAssertGreaterThan(walBytes(path), 1_000 * 4096, "no auto-checkpoint emptied the WAL")
            XCTAssertGreaterThan(wakes.withLock { $0 }, 0, "the hook woke the checkpointer")

            let checkpointer = try Store(path: path, access: .checkpointer)
            let (walPages, copied) = try checkpointer.checkpoint()
            XCTAssertGreaterThan(walPages, 1_000)
            XCTAssertEqual(copied, walPages, "nothing else reads: all of it is copied")
            try commit(owner, from: 1_200, count: 10)  // the WAL starts over after a full checkpoint
            XCTAssertLessThan(try checkpointer.checkpoint().walPages, walPages)
            try checkpointer.close()
            XCTAssertEqual(try owner.workflow(id: "01CKPT1205")?.id, "01CKPT1205")
            try owner.close()
            XCTAssertEqual(try Store(path: path, access: .inspector).integrityCheck(), "ok")
        }
    }

    func testACheckpointerNeedsAFile() {
        XCTAssertThrowsError(try Store(path: nil, access: .checkpointer))
    }
}
