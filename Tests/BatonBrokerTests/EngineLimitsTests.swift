import BatonConfig
import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Rate limits under the injected clock: no sleeping, exact times.
final class EngineLimitsTests: XCTestCase {
    private let minute: Int64 = 60_000

    /// A harness whose worker keeps beating while the clock moves in `step`s.
    private func advance(_ h: EngineHarness, _ ms: Int64, step: Int64 = 1000, workers: [String] = ["w1"]) {
        var left = ms
        while left > 0 {
            for w in workers { h.heartbeat(w) }
            h.advance(min(step, left))
            left -= step
        }
    }

    func testAJobTypeBucketStartsEmptyAndLetsJobsThroughAtItsRate() throws {
        let h = try EngineHarness()
        h.engine.useLimits(RateLimits(jobTypes: ["disk.erase": JobTypeLimit(rate: Rate(tokens: 2, periodMs: minute), burst: 1)]), now: h.now)
        h.ready("w1", types: ["disk.erase"], capacity: 10)
        let ids = (0..<3).map { _ in h.submit(spec([jobs(1, type: "disk.erase")])) }
        for id in ids { h.exec(id) }
        XCTAssertEqual(h.takeJobs("w1").count, 0, "empty at start: a (re)start is never a free burst")
        let wait = try XCTUnwrap(h.status(ids[0]).blocks[0].jobs[0].waitingFor)
        XCTAssertTrue(wait.hasPrefix("rate limit limits.job_types.disk.erase (2/min): next token at "), wait)

        advance(h, 29_000)
        XCTAssertEqual(h.takeJobs("w1").count, 0)
        advance(h, 1000)
        var sent = h.takeJobs("w1")
        XCTAssertEqual(sent.map(\.workflowId), [ids[0]], "one token per 30 s, in queue order")
        for j in sent { h.result("w1", j) }
        advance(h, 30_000)
        sent = h.takeJobs("w1")
        XCTAssertEqual(sent.map(\.workflowId), [ids[1]])
        XCTAssertNil(h.status(ids[1]).blocks[0].jobs[0].waitingFor)
    }

    func testABucketFillsToItsBurstAndNoFurther() throws {
        let h = try EngineHarness()
        h.engine.useLimits(RateLimits(jobTypes: ["echo": JobTypeLimit(rate: Rate(tokens: 1, periodMs: 1000), burst: 3)]), now: h.now)
        h.ready("w1", types: ["echo"], capacity: 10)
        advance(h, 10_000)  // ten intervals idle: the bucket holds 3, not 10
        let id = h.submit(spec([jobs(5)], concurrency: 5))
        h.exec(id)
        XCTAssertEqual(h.takeJobs("w1").count, 3)
        advance(h, 1000)
        XCTAssertEqual(h.takeJobs("w1").count, 1)
    }

    func testMaxRunningRefusesExecWithRetryAfterUntilOneEnds() throws {
        let h = try EngineHarness()
        h.engine.useLimits(RateLimits(workflows: ["erase": WorkflowLimit(maxRunning: 1)]), now: h.now)
        h.ready("w1", types: ["echo"], capacity: 4)
        let a = h.submit(spec([jobs(1)], name: "erase"))
        let b = h.submit(spec([jobs(1)], name: "erase"))
        let other = h.submit(spec([jobs(1)], name: "other"))
        XCTAssertEqual(h.exec(a).command, .status)
        let refused = h.exec(b)
        XCTAssertEqual(refused.command, .error)
        XCTAssertEqual(refused.body["code"], "rate_limited")
        XCTAssertEqual(refused.body["retry_after_ms"], 1000)
        XCTAssertEqual(h.status(b).state, .submitted, "a refused EXEC changes nothing")
        XCTAssertEqual(h.exec(other).command, .status, "other names are not limited")
        h.drain(["w1"])
        XCTAssertEqual(h.status(a).state, .succeeded)
        XCTAssertEqual(h.exec(b).body["state"], "RUNNING")
    }

    func testStartRateIsASlidingWindowThatSurvivesARestart() throws {
        let h = try EngineHarness()
        let limits = RateLimits(workflows: ["satellite-disk-erase": WorkflowLimit(rate: Rate(tokens: 1, periodMs: 30 * minute))])
        // The store says one started ten minutes ago (before a restart).
        h.engine.useLimits(limits, recentStarts: ["satellite-disk-erase": [h.now - 10 * minute]], now: h.now)
        let a = h.submit(spec([jobs(1)], name: "satellite-disk-erase"))
        let refused = h.exec(a)
        XCTAssertEqual(refused.body["code"], "rate_limited")
        XCTAssertEqual(refused.body["retry_after_ms"], .int(20 * minute))
        h.now += 20 * minute
        XCTAssertEqual(h.exec(a).body["state"], "RUNNING")
        let b = h.submit(spec([jobs(1)], name: "satellite-disk-erase"))
        XCTAssertEqual(h.exec(b).body["retry_after_ms"], .int(30 * minute))
    }

    func testAClientConnectionGetsAtMostItsInFlightLimit() throws {
        var e = Engine(config: EngineConfig(), random: SplitMix64(seed: 1))
        e.useLimits(RateLimits(clients: ClientLimit(maxInFlight: 2)), now: 0)
        let peer = PeerId(Array("c".utf8)), other = PeerId(Array("d".utf8))
        for t in ["1", "2", "3"] { e.handleClient(peer, .init(command: .ping, tag: Array(t.utf8)), now: 0) }
        e.handleClient(other, .init(command: .ping, tag: Array("x".utf8)), now: 0)
        let first = e.finishTurn(now: 0)
        XCTAssertEqual(first.replies.map(\.command), [.pong, .pong, .error, .pong])
        XCTAssertEqual(first.replies[2].body["code"], "rate_limited")
        // Before the turn is committed the three are still in flight; after, none is.
        e.handleClient(peer, .init(command: .ping, tag: Array("4".utf8)), now: 0)
        XCTAssertEqual(e.finishTurn(now: 0).replies.map(\.command), [.error])
        e.turnCommitted()
        e.turnCommitted()
        e.handleClient(peer, .init(command: .ping, tag: Array("5".utf8)), now: 0)
        XCTAssertEqual(e.finishTurn(now: 0).replies.map(\.command), [.pong])
    }

    func testTokenBucketArithmetic() {
        var b = TokenBucket(JobTypeLimit(rate: Rate(tokens: 3, periodMs: 1000), burst: 2), now: 0)
        XCTAssertEqual(b.available(at: 333), 0, "3/s: the first token at 333⅓ ms")
        XCTAssertEqual(b.nextTokenAt(0), 334)
        XCTAssertTrue(b.take(at: 334))
        XCTAssertFalse(b.take(at: 500))
        XCTAssertEqual(b.available(at: 10_000), 2, "capped at the burst")
        b.reconfigure(JobTypeLimit(rate: Rate(tokens: 1, periodMs: 1000), burst: 1), now: 10_000)
        XCTAssertEqual(b.available(at: 10_000), 1, "a smaller burst cuts the level")
        XCTAssertEqual(Rate(tokens: 1, periodMs: 30 * 60_000).text, "1/30min")
        XCTAssertEqual(Rate(tokens: 10, periodMs: 60_000).text, "10/min")
    }

    func testRatesAboveOneAMillisecondAreExact() {
        var b = TokenBucket(JobTypeLimit(rate: Rate(tokens: 5000, periodMs: 1000), burst: 100_000), now: 0)
        XCTAssertEqual(b.available(at: 1000), 5000, "5,000/s is not capped at one per millisecond")
        var taken = 0
        for ms in stride(from: Int64(1), through: 2000, by: 1) {
            while b.take(at: ms) { taken += 1 }
        }
        XCTAssertEqual(taken, 10_000, "two seconds at 5,000/s")
        XCTAssertEqual(b.nextTokenAt(2000), 2001)
    }

    func testAPartTokenIsNotLostAcrossTakes() {
        var b = TokenBucket(JobTypeLimit(rate: Rate(tokens: 2, periodMs: 1000), burst: 5), now: 0)  // one per 500 ms
        var taken: [Int64] = []
        for ms in stride(from: Int64(0), through: 2000, by: 50) where b.take(at: ms) { taken.append(ms) }
        XCTAssertEqual(taken, [500, 1000, 1500, 2000])
    }
}

final class EngineLimitsReportTests: XCTestCase {
    func testLimitsReportsLevelsWhatWaitsAndSinceWhenAndTheStops() throws {
        let h = try EngineHarness()
        let t0 = h.now
        h.engine.useLimits(RateLimits(
            jobTypes: ["disk.erase": JobTypeLimit(rate: Rate(tokens: 1, periodMs: 60_000), burst: 1)],
            workflows: ["erase": WorkflowLimit(maxRunning: 2, rate: Rate(tokens: 1, periodMs: 1_800_000))],
            clients: ClientLimit(maxInFlight: 10)), now: t0)
        h.ready("w1", types: ["disk.erase"], capacity: 4)
        let id = h.submit(spec([jobs(2, type: "disk.erase")], concurrency: 2, name: "erase"))
        h.exec(id)
        _ = h.request(.stop, StopRequest(name: "rollout", reason: "incident").body.objectValue!)
        h.turn { $0.useFileStops(["deploy": StopRecord(reason: "es.yaml", at: t0)], now: t0) }

        let r = h.request(.limits, [:])
        XCTAssertEqual(r.command, .ok)
        let type = try XCTUnwrap(r.body["job_types"]?.arrayValue?.first)
        XCTAssertEqual(type["type"], "disk.erase")
        XCTAssertEqual(type["rate"], "1/min")
        XCTAssertEqual(type["tokens"], 0)
        XCTAssertEqual(type["queued"], 2)
        XCTAssertEqual(type["next_token_at"], .string(Timestamp.format(ms: t0 + 60_000)))
        XCTAssertEqual(type["held_since"], .string(Timestamp.format(ms: t0)))
        let name = try XCTUnwrap(r.body["workflows"]?.arrayValue?.first)
        XCTAssertEqual(name["running"], 1)
        XCTAssertEqual(name["max_running"], 2)
        XCTAssertEqual(name["started_in_window"], 1)
        XCTAssertEqual(name["next_start_at"], .string(Timestamp.format(ms: t0 + 1_800_000)))
        XCTAssertEqual(r.body["clients"]?["max_in_flight"], 10)
        let stops = try XCTUnwrap(r.body["stops"]?.arrayValue)
        XCTAssertEqual(stops.map { $0["name"] }, ["deploy", "rollout"])
        XCTAssertEqual(stops.map { $0["source"] }, ["file", "stop"])
    }

    func testWithoutLimitsTheReportIsEmpty() throws {
        let h = try EngineHarness()
        XCTAssertEqual(h.request(.limits, [:]).body, ["job_types": [], "workflows": [], "stops": []])
    }
}
