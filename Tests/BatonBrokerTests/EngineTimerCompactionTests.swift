import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Timers of finished work are dropped in bulk, so the broker's memory does not grow
/// with the number of workflows it has finished, and timers that still apply survive.
final class EngineTimerCompactionTests: XCTestCase {
    func testFinishedWorkflowsLeaveNoTimersBehindAndLiveOnesStillFire() throws {
        // Liveness far beyond the clock jumps below, so the worker is never lost.
        let h = try EngineHarness(config: EngineConfig(heartbeatMs: 100_000, ttlMs: 60_000))
        h.ready("w1", types: ["echo", "slow"], capacity: 10)
        // Timers that must survive every compaction: an expiry, a job timeout, a backoff.
        let idle = h.submit(spec([jobs(1)]))
        let timed = h.submit(spec([jobs(1, type: "slow", timeoutMs: 30_000)]))
        h.exec(timed)
        let retrying = h.submit(spec([jobs(1, type: "slow", retry: RetryPolicy(maxAttempts: 2, backoffMs: 20_000))]))
        h.exec(retrying)
        let slowJobs = h.takeJobs("w1")
        XCTAssertEqual(slowJobs.count, 2)
        h.result("w1", slowJobs.first { $0.workflowId == retrying }!, ok: false, error: "boom")

        // Each SUBMIT sets a 60-second expiry that EXEC makes stale.
        let churn = 2 * Engine.minTimersBeforeCompaction
        for _ in 0..<churn {
            h.exec(h.submit(spec([jobs(1)])))
            h.drain(["w1"])
        }
        XCTAssertLessThan(h.engine.timersHeld, Engine.minTimersBeforeCompaction + 8,
                          "\(churn) finished workflows left \(h.engine.timersHeld) timers")

        h.advance(20_001)
        let retry = h.takeJobs("w1")
        XCTAssertEqual(retry.map(\.workflowId), [retrying], "the backoff timer survived compaction")
        XCTAssertEqual(retry.first?.attempt, 2)
        h.advance(10_000)
        XCTAssertEqual(h.status(timed).blocks[0].jobs[0].error, "timed out after 30000 ms", "the timeout survived")
        h.advance(30_000)
        XCTAssertEqual(h.status(idle).state, .expired, "the expiry survived")
    }

    func testAnIdleBrokerHoldsNoTimers() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 10)
        for _ in 0..<10 {
            h.exec(h.submit(spec([jobs(2)], concurrency: 2)))
        }
        h.drain(["w1"])
        // A finished workflow leaves memory two turns later (once its turn is committed).
        h.heartbeat("w1")
        h.heartbeat("w1")
        XCTAssertEqual(h.engine.workflowsInMemory, 0)
        XCTAssertEqual(h.engine.timersHeld, 0, "ten expiry timers made stale by EXEC are gone")
    }
}
