import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// The finished workflows STATUS keeps between reads: only final ones, within bounds,
/// and never one that a write or a deletion may have changed since it was read.
final class FinishedRecordsTests: XCTestCase {
    private func finished(_ id: String, jobs n: Int = 1, state: WorkflowState = .succeeded) -> WorkflowRecord {
        var w = WorkflowRecord(id: id, spec: spec([jobs(n)]), submittedAt: 1_800_000_000_000, lastEvent: 3)
        w.state = state
        return w
    }

    func testKeepsFinalRecordsOnly() {
        let kept = FinishedRecords()
        kept.keep(finished("DONE"), readAt: kept.generation)
        kept.keep(finished("SUBMITTED", state: .submitted), readAt: kept.generation)
        XCTAssertEqual(kept.record("DONE")?.id, "DONE")
        XCTAssertNil(kept.record("SUBMITTED"), "a workflow that can still change is read from the store each time")
        XCTAssertNil(kept.record("OTHER"))
    }

    func testARecordReadBeforeADropIsNotKept() {
        let kept = FinishedRecords()
        let before = kept.generation
        kept.dropAll()  // a deletion committed while the record was being read
        kept.keep(finished("RACED"), readAt: before)
        XCTAssertNil(kept.record("RACED"))
        kept.keep(finished("RACED"), readAt: kept.generation)
        XCTAssertNotNil(kept.record("RACED"))
    }

    func testACommittedWriteNamingAWorkflowDropsIt() {
        let kept = FinishedRecords()
        kept.keep(finished("A"), readAt: kept.generation)
        kept.keep(finished("B"), readAt: kept.generation)
        kept.keep(finished("C"), readAt: kept.generation)
        var batch = WriteBatch()
        batch.updated = [finished("A")]
        batch.jobs = [(workflowId: "B", block: 0, job: 0, record: JobRecord())]
        kept.committed([batch])
        XCTAssertNil(kept.record("A"))
        XCTAssertNil(kept.record("B"))
        XCTAssertNotNil(kept.record("C"))
        kept.dropAll()
        XCTAssertNil(kept.record("C"))
    }

    func testBoundedByEntriesOldestFirstAndByJobs() {
        let kept = FinishedRecords()
        let ids = (0...FinishedRecords.maxEntries).map { "W\($0)" }
        for id in ids { kept.keep(finished(id), readAt: kept.generation) }
        XCTAssertNil(kept.record(ids[0]), "the oldest goes first")
        XCTAssertTrue(ids.dropFirst().allSatisfy { kept.record($0) != nil })

        kept.keep(finished("HUGE", jobs: FinishedRecords.maxJobs + 1), readAt: kept.generation)
        XCTAssertNil(kept.record("HUGE"), "a workflow over the jobs bound is not kept")
        kept.keep(finished("BIG", jobs: FinishedRecords.maxJobs), readAt: kept.generation)
        XCTAssertNotNil(kept.record("BIG"))
        XCTAssertTrue(ids.allSatisfy { kept.record($0) == nil }, "the others made room for it")
    }
}
