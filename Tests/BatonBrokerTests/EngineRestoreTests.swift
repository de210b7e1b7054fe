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
