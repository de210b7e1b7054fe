import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// PROGRESS and `heartbeat_timeout_ms` (spec §9.2): a long job is kept alive by its
/// worker's PROGRESS, not by a huge `timeout_ms`; a silent attempt is lost and retried.
final class EngineProgressTests: XCTestCase {
    private func beating(_ ms: Int64 = 1000) -> WorkflowSpec {
        spec([[JobSpec(type: "echo", name: "erase-sdb", heartbeatTimeoutMs: ms)]])
    }

    private func progress(_ h: EngineHarness, _ worker: String, _ job: JobBody, attempt: Int? = nil, _ details: JSONValue? = nil) {
        let body = ProgressBody(jobId: job.jobId, attempt: attempt ?? job.attempt, details: details)
        h.turn { $0.handleWorker(PeerId(Array(worker.utf8)), .init(.progress, body.body), now: h.now) }
    }

    private func events(_ h: EngineHarness, _ id: String) -> [[String: JSONValue]] {
        let reply = h.request(.watch, ["id": .string(id), "after": 0])
        return (reply.body["events"]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    func testASilentAttemptIsLostAfterItsHeartbeatTimeoutAndRetried() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(beating())
        h.exec(id)
        let job = try XCTUnwrap(h.takeJobs("w1").first)
        XCTAssertEqual(job.heartbeatTimeoutMs, 1000, "the JOB tells the worker")
        h.heartbeat("w1")  // a live connection is not a live job
        h.advance(999)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .running)
        h.advance(2)
        let job0 = h.status(id).blocks[0].jobs[0]
        XCTAssertEqual(job0.state, .pending, "lost, to be retried")
        XCTAssertEqual(job0.error, "heartbeat timeout: no PROGRESS for 1000 ms (heartbeat_timeout_ms)")
        let cancel = try XCTUnwrap(h.sent("w1", .cancel).first)
        XCTAssertEqual(cancel["code"], "heartbeat_timeout")
        XCTAssertEqual(cancel["attempt"], 1)
    }

    func testProgressKeepsItAliveAndShowsInStatusAndEvents() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(beating())
        h.exec(id)
        let job = try XCTUnwrap(h.takeJobs("w1").first)
        for percent in [20, 40, 60] {
            h.advance(700)
            progress(h, "w1", job, ["percent": .int(Int64(percent))])
        }
        let running = h.status(id).blocks[0].jobs[0]
        XCTAssertEqual(running.state, .running, "2.1 s in, alive: each PROGRESS came within 1 s")
        XCTAssertEqual(running.progress, ["percent": 60])
        XCTAssertEqual(running.progressAt, h.now)
        let beats = events(h, id).filter { $0["kind"] == "job.progress" }
        XCTAssertEqual(beats.map { $0["details"] }, [["percent": 20]], "at most one event per attempt every 5 s")
        XCTAssertEqual(beats.first?["attempt"], 1)
        h.result("w1", job)
        XCTAssertEqual(h.status(id).state, .succeeded)
        XCTAssertNil(h.status(id).blocks[0].jobs[0].progress, "details are for running attempts")
    }

    func testProgressForAnotherAttemptOrConnectionIsDropped() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        h.ready("w2", types: ["other"], capacity: 1)
        let id = h.submit(beating())
        h.exec(id)
        let job = try XCTUnwrap(h.takeJobs("w1").first)
        h.advance(600)
        progress(h, "w2", job, ["forged": true])  // not its JOB
        progress(h, "w1", job, attempt: 2, ["stale": true])  // not the running attempt
        XCTAssertNil(h.status(id).blocks[0].jobs[0].progress)
        h.heartbeat("w1")
        h.heartbeat("w2")
        h.advance(500)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .pending, "the forged beats kept nothing alive")
    }

    func testARestoreAfterAFailedCommitKeepsCheckingTheHeartbeat() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(beating())
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 1)
        h.advance(500)
        // A failed commit: the engine is rebuilt from the store while the worker stays.
        h.turn { $0.restore(try! h.store.loadActive(), stops: try! h.store.loadStops(), now: h.now) }
        XCTAssertEqual(h.engine.runningAttempts, 1)
        h.heartbeat("w1")
        h.advance(999)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .running, "a whole window from the recovery")
        h.advance(2)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .pending, "still lost when silent: the recovery re-armed the check")
    }

    func testNoHeartbeatTimeoutMeansProgressIsOnlyInformation() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        let job = try XCTUnwrap(h.takeJobs("w1").first)
        XCTAssertEqual(job.heartbeatTimeoutMs, 0)
        XCTAssertNil(job.body["heartbeat_timeout_ms"], "absent from the JOB when not set")
        progress(h, "w1", job, "half way")
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].progress, "half way")
        h.heartbeat("w1")
        h.advance(2500)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .running)
    }
}
