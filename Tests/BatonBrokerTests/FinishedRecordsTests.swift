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
        batch.updated = [finished("A", state: .running)]
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

    /// A workflow whose final turn was committed is kept as written (the engine drops it
    /// then; the SDKs ask its STATUS right after), inserted final or updated final, after
    /// the same batch's job rows; a workflow the batch moves but does not finish is not.
    func testAWorkflowIsKeptAsItsFinalTurnWroteIt() {
        let kept = FinishedRecords()
        var done = finished("DONE")
        done.jobs[0][0] = JobRecord(state: .succeeded, attempt: 1, output: ["ok": true])
        var batch = WriteBatch()
        batch.jobs = [(workflowId: "DONE", block: 0, job: 0, record: done.jobs[0][0])]
        batch.updated = [done, finished("RUNNING", state: .running)]
        batch.inserted = [finished("CANCELLED", state: .cancelled)]
        kept.committed([batch])
        XCTAssertEqual(kept.record("DONE"), done)
        XCTAssertEqual(kept.record("CANCELLED")?.state, .cancelled)
        XCTAssertNil(kept.record("RUNNING"))
    }

    /// What is kept from a commit is what the store reads back: workflows run through the
    /// engine (outputs of every JSON kind, a failed attempt retried, a failure, a cancel,
    /// two blocks), every batch applied to a real store, each final record a batch wrote
    /// compared with the store's row and its STATUS pages byte for byte.
    func testTheKeptRecordIsTheStoredOne() throws {
        let h = try EngineHarness()
        h.ready("w", types: ["echo"], capacity: 4)
        let outputs: [JSONValue] = [["n": 1, "x": .double(2.5), "s": "déploiement ✓ \"q\"", "l": [nil, true, ["z": []]]], .int(-7), "text", nil]
        var ids: [String] = []
        for (i, output) in outputs.enumerated() {
            let id = h.submit(spec([jobs(2), jobs(1)], name: "kept-\(i)"))
            h.exec(id)
            ids.append(id)
            for j in h.takeJobs("w") { h.result("w", j, output: output) }
            for j in h.takeJobs("w") { h.result("w", j, ok: i != 3, output: output, error: i == 3 ? "boom" : nil, retryable: false) }
        }
        let retried = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 2, backoffMs: 0))], name: "kept-retry"))
        h.exec(retried)
        for j in h.takeJobs("w") { h.result("w", j, ok: false, error: "first", retryable: true) }
        h.drain(["w"])
        let cancelled = h.submit(spec([jobs(1)], name: "kept-cancel"))
        _ = h.request(.cancel, ["id": .string(cancelled)])
        ids += [retried, cancelled]

        let kept = FinishedRecords()
        kept.committed(h.committed)
        var finals = 0
        for batch in h.committed {
            for w in batch.inserted + batch.updated where w.state.isFinal {
                finals += 1
                let stored = try XCTUnwrap(h.store.workflow(id: w.id))
                XCTAssertEqual(w, stored, w.id)
                for from in [0, 1, 2] { XCTAssertEqual(w.statusPageBytes(from: from), stored.statusPageBytes(from: from), w.id) }
            }
        }
        XCTAssertEqual(finals, ids.count, "every workflow finished in a committed batch")
        for id in ids { XCTAssertEqual(kept.record(id), try h.store.workflow(id: id), id) }
    }
}
