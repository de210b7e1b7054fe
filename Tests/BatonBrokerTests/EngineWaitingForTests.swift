import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// STATUS says what holds a PENDING job back, so nobody wonders why nothing runs.
final class EngineWaitingForTests: XCTestCase {
    func testAJobWithNoWorkerForItsTypeSaysSoUntilOneComes() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(3, type: "disk.erase")], concurrency: 2))
        h.exec(id)
        let waiting = h.status(id).blocks[0].jobs.map(\.waitingFor)
        XCTAssertEqual(waiting, ["no worker for disk.erase", "no worker for disk.erase", nil],
                       "the third job is held by the block's concurrency, not by a missing worker")
        h.ready("w1", types: ["echo"], capacity: 4)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].waitingFor, "no worker for disk.erase", "a worker of another type does not help")
        h.ready("w2", types: ["disk.erase"], capacity: 1)
        let s = h.status(id)
        XCTAssertEqual(s.blocks[0].jobs.map(\.state), [.running, .pending, .pending])
        XCTAssertEqual(s.blocks[0].jobs.map(\.waitingFor), [nil, nil, nil], "queued for a busy worker: about to run")
    }

    /// A page asks what holds each type back once per run of jobs of one type
    /// (`JobHolds.TypeWaitCache`): types that alternate still get their own answers.
    func testJobsOfTypesThatAlternateEachSayWhatHoldsTheirType() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let erase = jobs(1, type: "disk.erase"), echo = jobs(1)
        let id = h.submit(spec([erase + echo + erase + echo + echo], concurrency: 5))
        h.exec(id)
        let s = h.status(id)
        XCTAssertEqual(s.blocks[0].jobs.map(\.state), [.pending, .running, .pending, .pending, .pending])
        XCTAssertEqual(s.blocks[0].jobs.map(\.waitingFor),
                       ["no worker for disk.erase", nil, "no worker for disk.erase", nil, nil])
    }

    func testARetryWaitingForItsBackoffSaysUntilWhen() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 2, backoffMs: 5000))]))
        h.exec(id)
        let job = h.takeJobs("w1")[0]
        h.result("w1", job, ok: false, error: "flaky")
        let retryAt = h.now + 5000
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].waitingFor, "retry backoff until \(Timestamp.format(ms: retryAt))")
        for _ in 0..<5 {  // the worker keeps beating, or it would be lost meanwhile
            h.heartbeat("w1")
            h.advance(1000)
        }
        XCTAssertNil(h.status(id).blocks[0].jobs[0].waitingFor)
        XCTAssertEqual(h.takeJobs("w1").map(\.attempt), [2])
    }

    func testWaitingForIsOnTheWireAndAbsentWhenNothingWaits() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)]))
        XCTAssertNil(h.request(.status, ["id": .string(id)]).body["blocks"]?.arrayValue?[0]["jobs"]?.arrayValue?[0]["waiting_for"],
                     "SUBMITTED: nothing is released yet")
        let running = h.exec(id).body["blocks"]?.arrayValue?[0]["jobs"]?.arrayValue?[0]
        XCTAssertEqual(running?["waiting_for"], "no worker for echo")
    }
}
