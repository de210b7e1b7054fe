import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// STATS (spec §4.3.10), the engine's half: gauges read from memory, counters bumped
/// where each event happens. Each figure is checked against what the test did.
final class EngineStatsTests: XCTestCase {
    private func stats(_ h: EngineHarness, as caller: Caller = .plain) -> [String: JSONValue] {
        let reply = h.request(.stats, [:], as: caller)
        XCTAssertEqual(reply.command, .ok)
        return reply.body.objectValue ?? [:]
    }

    func testCountersFollowWhatHappened() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 2)
        let ok = h.submit(spec([[JobSpec(type: "echo")]]))
        let flaky = h.submit(spec([[JobSpec(type: "echo", retry: RetryPolicy(maxAttempts: 2, backoffMs: 0))]]))
        let idle = h.submit(spec([[JobSpec(type: "echo")]]))
        h.exec(ok)
        h.exec(flaky)
        let jobs = h.takeJobs("w1")
        XCTAssertEqual(jobs.count, 2)
        h.result("w1", jobs[0])
        h.result("w1", jobs[1], ok: false, error: "boom")
        let retried = try XCTUnwrap(h.takeJobs("w1").first)
        h.result("w1", retried, ok: false, error: "boom again")
        h.result("w1", retried)  // late: the attempt is over, fenced
        _ = h.request(.cancel, ["id": .string(idle)])

        let s = stats(h)
        let c = try XCTUnwrap(s["counters"]?.objectValue)
        XCTAssertEqual(c["submitted"], 3)
        XCTAssertEqual(c["executed"], 2)
        XCTAssertEqual(c["dispatched"], 3)
        XCTAssertEqual(c["succeeded"], 1)
        XCTAssertEqual(c["failed"], 2)
        XCTAssertEqual(c["retries"], 1)
        XCTAssertEqual(c["fenced"], 1)
        XCTAssertEqual(c["timeouts"], 0)
        XCTAssertEqual(s["finished"], ["SUCCEEDED": 1, "FAILED": 1, "CANCELLED": 1, "EXPIRED": 0])
        XCTAssertEqual(s["workflows"], ["SUBMITTED": 0, "RUNNING": 0, "STOPPED": 0])
        XCTAssertEqual(s["running"], 0)
    }

    func testGaugesShowQueuesWorkersAndWhyWorkWaits() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        h.ready("w2", types: ["echo", "erase"], capacity: 0)  // draining: serves nothing new
        let a = h.submit(spec([jobs(3)], concurrency: 3))
        let b = h.submit(spec([jobs(2, type: "erase")], concurrency: 2))
        _ = h.submit(spec([jobs(1)]))
        h.exec(a)
        h.exec(b)
        XCTAssertEqual(h.takeJobs("w1").count, 1)
        h.advance(400)
        h.heartbeat("w1")

        let s = stats(h)
        XCTAssertEqual(s["workflows"], ["SUBMITTED": 1, "RUNNING": 2, "STOPPED": 0])
        XCTAssertEqual(s["running"], 1)
        XCTAssertEqual(s["job_types"], [
            ["type": "echo", "queued": 2, "running": 1, "workers": 2],
            ["type": "erase", "queued": 2, "running": 0, "workers": 1],
        ])
        XCTAssertEqual(s["waiting"], ["rate_limited": 0, "no_worker": 2, "stopped": 0], "erase: only a draining worker declares it")
        let workers = try XCTUnwrap(s["workers"]?.arrayValue)
        XCTAssertEqual(workers.map { $0["worker"] }, ["w1", "w2"], "in registration order")
        XCTAssertEqual(workers[0]["running"], 1)
        XCTAssertEqual(workers[0]["capacity"], 1)
        XCTAssertEqual(workers[0]["draining"], false)
        XCTAssertEqual(workers[1]["draining"], true)
        XCTAssertEqual(workers[1]["types"], ["echo", "erase"])
        XCTAssertEqual(workers[0]["connected_at"], .string(Timestamp.format(ms: h.now - 400)))
        XCTAssertEqual(workers[0]["last_seen"], .string(Timestamp.format(ms: h.now)))
        XCTAssertEqual(s["time"], .string(Timestamp.format(ms: h.now)))
    }

    func testTimeoutsAndLostWorkersAreCounted() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 2)
        let id = h.submit(spec([[JobSpec(type: "echo", timeoutMs: 500), JobSpec(type: "echo", heartbeatTimeoutMs: 800)]], concurrency: 2))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 2)
        h.advance(300)
        h.heartbeat("w1")
        h.advance(300)  // 600 ms: the first job's timeout
        h.heartbeat("w1")
        h.advance(300)  // 900 ms: the second's heartbeat timeout
        var c = try XCTUnwrap(stats(h)["counters"]?.objectValue)
        XCTAssertEqual(c["timeouts"], 1)
        XCTAssertEqual(c["heartbeat_timeouts"], 1)
        XCTAssertEqual(c["workers_lost"], 0)
        h.advance(5000)  // w1 silent for more than 3 intervals
        c = try XCTUnwrap(stats(h)["counters"]?.objectValue)
        XCTAssertEqual(c["workers_lost"], 1)
        XCTAssertEqual(stats(h)["workers"], [])
    }

    func testStatsIsForAdminsWhenKeysAreInUse() throws {
        let h = try EngineHarness()
        let refused = h.request(.stats, [:], as: Caller(name: "ci", isAdmin: false))
        XCTAssertEqual(refused.command, .error)
        XCTAssertEqual(refused.body["code"], "forbidden")
        XCTAssertEqual(h.request(.stats, [:], as: Caller(name: "ops", isAdmin: true)).command, .ok)
    }
}
