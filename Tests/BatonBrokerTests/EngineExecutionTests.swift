import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Blocks, concurrency, dispatch, retries, failures, fencing, timeouts, lost workers.
final class EngineExecutionTests: XCTestCase {
    func testBlocksRunInOrder() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 10)
        let id = h.submit(spec([jobs(2), jobs(3)], concurrency: 5))
        h.exec(id)
        let first = h.takeJobs("w1")
        XCTAssertEqual(first.map(\.jobId), ["\(id).0.0", "\(id).0.1"], "only block 0 runs")
        h.result("w1", first[0])
        XCTAssertEqual(h.takeJobs("w1").count, 0, "block 1 waits for all of block 0")
        h.result("w1", first[1])
        XCTAssertEqual(h.takeJobs("w1").map(\.jobId), ["\(id).1.0", "\(id).1.1", "\(id).1.2"])
    }

    func testConcurrencyLimitPerBlock() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 100)
        let id = h.submit(spec([jobs(7)], concurrency: 3))
        h.exec(id)
        var running = h.takeJobs("w1")
        var maxSeen = running.count
        var done = 0
        while !running.isEmpty {
            let j = running.removeFirst()
            h.result("w1", j)
            done += 1
            running += h.takeJobs("w1")
            maxSeen = max(maxSeen, running.count)
            XCTAssertLessThanOrEqual(running.count, 3)
        }
        XCTAssertEqual(maxSeen, 3)
        XCTAssertEqual(done, 7)
        XCTAssertEqual(h.status(id).state, .succeeded)
    }

    func testWorkerCapacityAndTypesRespected() throws {
        let h = try EngineHarness()
        h.ready("small", types: ["echo"], capacity: 1)
        h.ready("other", types: ["sleep"], capacity: 10)
        let id = h.submit(spec([jobs(3)], concurrency: 3))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("small").count, 1, "capacity 1")
        XCTAssertEqual(h.takeJobs("other").count, 0, "wrong type")
    }

    func testLeastLoadedWorkerFirst() throws {
        let h = try EngineHarness()
        h.ready("a", types: ["echo"], capacity: 2)
        h.ready("b", types: ["echo"], capacity: 2)
        let id = h.submit(spec([jobs(4)], concurrency: 4))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("a").count, 2)
        XCTAssertEqual(h.takeJobs("b").count, 2)
    }

    func testJobsWaitForAWorkerOfTheirType() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(2)], concurrency: 2))
        h.exec(id)
        h.advance(500)
        h.ready("late", types: ["echo"], capacity: 4)
        XCTAssertEqual(h.takeJobs("late").count, 2)
        _ = id
    }

    func testRetryWithExponentialBackoff() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 3, backoffMs: 100))]))
        h.exec(id)
        let a1 = h.takeJobs("w1")[0]
        XCTAssertEqual(a1.attempt, 1)
        h.result("w1", a1, ok: false, error: "boom")
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .pending)
        h.advance(99)
        XCTAssertEqual(h.takeJobs("w1").count, 0, "backoff 100 ms not over")
        h.advance(1)
        let a2 = h.takeJobs("w1")[0]
        XCTAssertEqual(a2.attempt, 2)
        h.result("w1", a2, ok: false, error: "boom")
        h.advance(199)
        XCTAssertEqual(h.takeJobs("w1").count, 0, "backoff doubled to 200 ms")
        h.advance(1)
        let a3 = h.takeJobs("w1")[0]
        XCTAssertEqual(a3.attempt, 3)
        h.result("w1", a3, ok: true)
        XCTAssertEqual(h.status(id).state, .succeeded)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].attempt, 3)
    }

    func testFailureAfterRetriesFailsWorkflowAndLaterBlocksNeverStart() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo", "fail"], capacity: 4)
        let failing = [JobSpec(type: "fail", retry: RetryPolicy(maxAttempts: 2, backoffMs: 0))]
        let id = h.submit(spec([failing, jobs(2)]))
        h.exec(id)
        for _ in 0..<2 {
            let j = h.takeJobs("w1")
            XCTAssertEqual(j.count, 1)
            XCTAssertEqual(j[0].type, "fail")
            h.result("w1", j[0], ok: false, error: "disk on fire")
        }
        let s = h.status(id)
        XCTAssertEqual(s.state, .failed)
        XCTAssertEqual(s.reason, "job \(id).0.0 (fail) failed after 2 attempts: disk on fire")
        XCTAssertEqual(s.blocks.map(\.state), [.failed, .cancelled])
        XCTAssertEqual(s.blocks[1].jobs.map(\.attempt), [0, 0], "never dispatched")
        XCTAssertEqual(h.takeJobs("w1").count, 0)
    }

    func testNonRetryableFailureFailsAtOnce() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 5, backoffMs: 0))]))
        h.exec(id)
        h.result("w1", h.takeJobs("w1")[0], ok: false, error: "bad args", retryable: false)
        XCTAssertEqual(h.status(id).state, .failed)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].attempt, 1)
    }

    func testFailureCancelsRunningSiblings() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(3, retry: RetryPolicy(maxAttempts: 1, backoffMs: 0))], concurrency: 3))
        h.exec(id)
        let js = h.takeJobs("w1")
        h.result("w1", js[0], ok: false, error: "x")
        XCTAssertEqual(Set(h.sent("w1", .cancel).map { $0["job_id"]!.stringValue! }), Set([js[1].jobId, js[2].jobId]))
        XCTAssertEqual(h.status(id).blocks[0].jobs.map(\.state), [.failed, .cancelled, .cancelled])
    }

    func testStaleResultIsFencedOff() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 3, backoffMs: 0))]))
        h.exec(id)
        let a1 = h.takeJobs("w1")[0]
        h.result("w1", a1, ok: false, error: "first")
        let a2 = h.takeJobs("w1")[0]
        XCTAssertEqual(a2.attempt, 2)
        // A late success for attempt 1 must not overwrite attempt 2's outcome.
        h.result("w1", a1, ok: true, output: "stale")
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .running)
        XCTAssertTrue(h.notes.contains { $0.text.contains("dropped stale RESULT") })
        h.result("w1", a2, ok: true, output: "fresh")
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].output, "fresh")
        // And a duplicate of the accepted result changes nothing.
        h.result("w1", a2, ok: false, error: "dup")
        XCTAssertEqual(h.status(id).state, .succeeded)
    }

    func testTimeoutCancelsAndRetries() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 2, backoffMs: 0), timeoutMs: 500)]))
        h.exec(id)
        let a1 = h.takeJobs("w1")[0]
        XCTAssertEqual(a1.timeoutMs, 500)
        h.heartbeat("w1")
        h.advance(499)
        XCTAssertTrue(h.sent("w1", .cancel).isEmpty)
        h.advance(1)
        XCTAssertEqual(h.sent("w1", .cancel).first?["job_id"]?.stringValue, a1.jobId)
        let a2 = h.takeJobs("w1")[0]
        XCTAssertEqual(a2.attempt, 2)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].error, "timed out after 500 ms")
    }

    func testSilentWorkerLosesItsJobsToAnother() throws {
        let h = try EngineHarness(config: EngineConfig(heartbeatMs: 100, ttlMs: 60_000))
        h.ready("dies", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 3, backoffMs: 0))]))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("dies").count, 1)
        h.ready("lives", types: ["echo"], capacity: 1)
        for _ in 0..<4 {
            h.heartbeat("lives")
            h.advance(100)
        }
        let again = h.takeJobs("lives")
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(again[0].attempt, 2, "a lost attempt counts")
        XCTAssertEqual(h.engine.connectedWorkers, 1)
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].error, "worker lost")
    }

    func testMaxAttemptsOneMeansAtMostOnce() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 1, backoffMs: 0))]))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 1)
        h.turn { $0.handleWorker(PeerId(Array("w1".utf8)), .init(.disconnect), now: h.now) }
        h.ready("w2", types: ["echo"], capacity: 1)
        XCTAssertEqual(h.takeJobs("w2").count, 0, "never run twice")
        XCTAssertEqual(h.status(id).state, .failed)
    }

    func testUnknownWorkerGetsDisconnect() throws {
        let h = try EngineHarness()
        h.heartbeat("ghost")
        XCTAssertEqual(h.sent("ghost", .disconnect).count, 1)
    }

    func testReadyIsAnsweredWithHeartbeatInterval() throws {
        let h = try EngineHarness(config: EngineConfig(heartbeatMs: 250, ttlMs: 1000))
        h.ready("w1", types: ["echo"], capacity: 1)
        XCTAssertEqual(h.sent("w1", .heartbeat).first?["interval_ms"], 250)
    }

    func testBadReadyGetsDisconnectWithReason() throws {
        let h = try EngineHarness()
        h.turn { $0.handleWorker(PeerId(Array("w".utf8)), .init(.ready, ["worker": "w", "types": []]), now: h.now) }
        XCTAssertTrue(h.sent("w", .disconnect).first?["reason"]?.stringValue?.contains("types") ?? false)
        XCTAssertEqual(h.engine.connectedWorkers, 0)
    }
}

final class EngineWorkerOrderTests: XCTestCase {
    /// Two workers that register in the same millisecond still have an order: the first
    /// to register gets the job when their loads tie.
    func testALoadTieGoesToTheFirstRegisteredEvenInTheSameMillisecond() throws {
        for _ in 0..<20 {
            let h = try EngineHarness()
            h.ready("zz-first", types: ["echo"], capacity: 2)
            h.ready("aa-second", types: ["echo"], capacity: 2)
            let id = h.submit(spec([jobs(1)]))
            h.exec(id)
            XCTAssertEqual(h.takeJobs("zz-first").count, 1)
            XCTAssertEqual(h.takeJobs("aa-second").count, 0)
        }
    }
}

final class EngineFencingTests: XCTestCase {
    /// The adversarial probe's hole: a worker READY for another type sends RESULT ok for
    /// a job it was never sent (job ids follow from workflow ids). It must not count.
    func testAResultFromAnotherWorkerConnectionIsDroppedEvenWithTheRightAttempt() throws {
        let h = try EngineHarness()
        h.ready("honest", types: ["echo"], capacity: 1)
        h.ready("forger", types: ["x"], capacity: 1)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        let job = try XCTUnwrap(h.takeJobs("honest").first)
        let forged = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: true, output: ["forged": true])
        h.turn { $0.handleWorker(PeerId(Array("forger".utf8)), .init(.result, forged.body), now: h.now) }
        let s = h.status(id)
        XCTAssertEqual(s.state, .running, "the forged RESULT changed nothing")
        XCTAssertEqual(s.blocks[0].jobs[0].state, .running)
        XCTAssertTrue(h.notes.contains { $0.level == .warning && $0.text.contains("that JOB went to another connection") })
        h.result("honest", job, output: ["real": true])
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].output, ["real": true])
    }
}
