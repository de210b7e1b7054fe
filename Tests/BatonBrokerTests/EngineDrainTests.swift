import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// A worker that sends READY with capacity 0 is draining (spec §9): it gets no new JOB,
/// its running attempts may still succeed, and READY with capacity ≥ 1 undoes it.
final class EngineDrainTests: XCTestCase {
    func testADrainingWorkerFinishesItsJobsAndGetsNoNewOnes() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 2)
        let id = h.submit(spec([jobs(4)], concurrency: 4))
        h.exec(id)
        let running = h.takeJobs("w1")
        XCTAssertEqual(running.count, 2)
        h.ready("w1", types: ["echo"], capacity: 0)
        for j in running { h.result("w1", j) }
        XCTAssertEqual(h.takeJobs("w1").count, 0, "freed slots do not bring new jobs to a draining worker")
        XCTAssertEqual(h.status(id).blocks[0].jobs.prefix(2).map(\.state), [.succeeded, .succeeded], "its running jobs counted")
        XCTAssertEqual(h.status(id).blocks[0].jobs[2].waitingFor, "no worker for echo (1 draining)")

        h.ready("w2", types: ["echo"], capacity: 2)
        XCTAssertEqual(h.takeJobs("w2").count, 2, "the rest goes to a worker that takes jobs")
        XCTAssertEqual(h.takeJobs("w1").count, 0)
    }

    func testReadyWithCapacityAgainEndsTheDrain() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 0)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 0)
        h.ready("w1", types: ["echo"], capacity: 1)
        XCTAssertEqual(h.takeJobs("w1").map(\.jobId), ["\(id).0.0"])
    }
}

/// A registered worker that sends a bad READY is told DISCONNECT and forgotten: its
/// attempts go back to the queue at once, not after the liveness timeout.
final class EngineBadReadyTests: XCTestCase {
    func testABadReadyFromARegisteredWorkerEndsItsAttempts() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 1)
        h.turn { $0.handleWorker(PeerId(Array("w1".utf8)), .init(.ready, ["worker": "w1", "types": "echo"]), now: h.now) }
        XCTAssertEqual(h.sent("w1", .disconnect).last?["code"], "bad_ready")
        let job = h.status(id).blocks[0].jobs[0]
        XCTAssertEqual(job.state, .pending, "its attempt ended and is retried")
        XCTAssertEqual(job.error, "worker lost")
        h.ready("w2", types: ["echo"], capacity: 1)
        h.advance(1000)  // the retry backoff
        XCTAssertEqual(h.takeJobs("w2").count, 1)
    }
}
