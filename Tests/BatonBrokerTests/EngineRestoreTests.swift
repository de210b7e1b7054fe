import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Restart: memory rebuilt from the store on the same file, as after kill -9.
final class EngineRestoreTests: XCTestCase {
    func testRestartResumesWithoutRerunningSucceededJobs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-restore-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("b.db").path

        var id = ""
        var running: [JobBody] = []
        do {
            let h = try EngineHarness(store: try Store(path: path))
            h.ready("w1", types: ["echo"], capacity: 10)
            id = h.submit(spec([jobs(3), jobs(1)], concurrency: 3))
            h.exec(id)
            running = h.takeJobs("w1")
            h.result("w1", running[0])  // succeeded and committed
        }
        // "Crash": a new engine on the same file.
        let h = try EngineHarness(store: try Store(path: path))
        let s = h.status(id)
        XCTAssertEqual(s.state, .running)
        XCTAssertEqual(s.blocks[0].jobs[0].state, .succeeded)
        XCTAssertEqual(s.blocks[0].jobs[1].error, "broker restarted while the attempt ran")
        h.ready("w2", types: ["echo"], capacity: 10)
        h.advance(1000)  // backoff of the lost attempts
        let again = h.takeJobs("w2")
        XCTAssertEqual(again.map(\.jobId).sorted(), [running[1].jobId, running[2].jobId].sorted(), "only unreported jobs run again")
        XCTAssertEqual(again.map(\.attempt), [2, 2])
        // A stale result from the old attempt is fenced off.
        h.result("w2", running[1])
        XCTAssertEqual(h.status(id).blocks[0].jobs[1].state, .running)
        h.drain(["w2"], alreadyTaken: again.map { ("w2", $0) })
        XCTAssertEqual(h.status(id).state, .succeeded)
    }

    /// A turn with only job events (a result, the next dispatch) writes the events alone,
    /// not the workflow's row nor job rows; after a restart the events go on numbering
    /// from the newest stored one, with no gap and no seq used twice.
    func testJobEventsAloneLeaveTheWorkflowRowAndARestartNumbersOnFromTheNewestEvent() throws {
        let store = try Store(path: nil)
        var id = ""
        do {
            let h = try EngineHarness(store: store)
            h.ready("w1", types: ["echo"], capacity: 1)
            id = h.submit(spec([jobs(3)], concurrency: 3))
            h.exec(id)
            let first = h.takeJobs("w1")
            XCTAssertEqual(first.count, 1)
            let body = ResultBody(jobId: first[0].jobId, attempt: first[0].attempt, ok: true)
            h.engine.handleWorker(PeerId(Array("w1".utf8)), .init(.result, body.body), now: h.now)
            let out = h.engine.finishTurn(now: h.now)
            XCTAssertEqual(out.writes.updated.map(\.id), [], "no workflow column changed")
            XCTAssertEqual(out.writes.jobs.count, 0, "a success and a dispatch write no job row: their events say them")
            XCTAssertEqual(out.writes.events.map(\.event.kind), [.jobSucceeded, .jobDispatched])
            XCTAssertNoThrow(try store.apply(out.writes))
            h.engine.turnCommitted()
        }
        let h = try EngineHarness(store: store)  // "crash": memory rebuilt from the store
        h.ready("w2", types: ["echo"], capacity: 10)
        h.advance(1000)  // backoff of the attempt lost with the broker
        h.drain(["w2"])
        XCTAssertEqual(h.status(id).state, .succeeded)
        let seqs = try store.events(workflowId: id, after: 0, limit: 1000).map(\.seq)
        XCTAssertEqual(seqs, Array(1...Int64(seqs.count)))
    }

    func testSubmittedWorkflowSurvivesRestartAndExpiryKeepsItsDeadline() throws {
        let store = try Store(path: nil)
        let config = EngineConfig(heartbeatMs: 1000, ttlMs: 5000)
        let first = try EngineHarness(config: config, store: store)
        let id = first.submit(spec([jobs(1)]))
        let second = try EngineHarness(config: config, store: store)
        second.now = first.now
        XCTAssertEqual(second.status(id).state, .submitted)
        second.advance(5000)
        XCTAssertEqual(second.status(id).state, .expired)
    }

    func testRestoreAfterFailedCommitKeepsCommittedAssignments() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 2)
        let id = h.submit(spec([jobs(2)], concurrency: 2))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 2)
        // Simulate a failed commit: rebuild from the store while the worker is connected.
        h.turn { $0.restore(try! h.store.loadActive(), stops: try! h.store.loadStops(), now: h.now) }
        XCTAssertEqual(h.engine.runningAttempts, 2, "committed attempts stay with their worker")
        XCTAssertEqual(h.takeJobs("w1").count, 0, "nothing dispatched twice")
        XCTAssertEqual(h.status(id).blocks[0].jobs.map(\.attempt), [1, 1])
    }
}
