import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Bounds on what one peer can make the broker hold: SUBMITTED workflows per owner, and
/// the size of a job's output.
final class EngineQuotaTests: XCTestCase {
    let alice = Caller(name: "alice", isAdmin: false)
    let bob = Caller(name: "bob", isAdmin: false)

    func testSubmittedWorkflowsAreQuotaedPerOwnerAndExecCancelFreeTheQuota() throws {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.maxSubmittedPerOwner = 3
        let h = try EngineHarness(config: config)
        h.ready("w1", types: ["echo"], capacity: 10)
        let ids = (0..<3).map { _ in h.submit(spec([jobs(1)]), as: alice) }
        let refused = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)])).body.objectValue!, as: alice)
        XCTAssertEqual(refused.body["code"], "rate_limited")
        XCTAssertNotNil(refused.body["retry_after_ms"]?.intValue)
        XCTAssertTrue(refused.body["message"]?.stringValue?.contains("3 SUBMITTED") ?? false, "\(refused.body)")
        XCTAssertEqual(try h.store.countByState()[.submitted], 3, "the refused SUBMIT stored nothing")
        XCTAssertFalse(h.submit(spec([jobs(1)]), as: bob).isEmpty, "another key has its own quota")

        h.exec(ids[0])
        XCTAssertFalse(h.submit(spec([jobs(1)]), as: alice).isEmpty, "EXEC freed one")
        _ = h.request(.cancel, ["id": .string(ids[1])], as: alice)
        XCTAssertFalse(h.submit(spec([jobs(1)]), as: alice).isEmpty, "CANCEL freed one")
        XCTAssertEqual(h.request(.submit, SubmitRequest(workflow: spec([jobs(1)])).body.objectValue!, as: alice).body["code"], "rate_limited")
        _ = h.advance(60_001)
        XCTAssertFalse(h.submit(spec([jobs(1)]), as: alice).isEmpty, "expiry freed them")
    }

    func testTheQuotaIsRebuiltFromTheStoreAtRestart() throws {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.maxSubmittedPerOwner = 2
        let h = try EngineHarness(config: config)
        _ = h.submit(spec([jobs(1)]), as: alice)
        _ = h.submit(spec([jobs(1)]), as: alice)
        let restarted = try EngineHarness(config: config, store: h.store)
        XCTAssertEqual(restarted.request(.submit, SubmitRequest(workflow: spec([jobs(1)])).body.objectValue!, as: alice).body["code"],
                       "rate_limited")
    }

    func testAnOversizedResultFailsItsAttemptWithoutRetryAndWorkersAreToldTheLimit() throws {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.maxOutputBytes = 1000
        let h = try EngineHarness(config: config)
        h.ready("w1", types: ["echo"], capacity: 1)
        XCTAssertEqual(h.sent("w1", .heartbeat).first?["max_output_bytes"], 1000, "the HEARTBEAT answering READY says the limit")
        let id = h.submit(spec([jobs(1, retry: RetryPolicy(maxAttempts: 3, backoffMs: 0))]))
        h.exec(id)
        let job = try XCTUnwrap(h.takeJobs("w1").first)
        let big = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: true, output: .string(String(repeating: "x", count: 2000)))
        let bytes = WorkerFrames.encode(.init(.result, big.body))[3].count
        h.turn { $0.handleWorker(PeerId(Array("w1".utf8)), .init(.result, big.body), bodyBytes: bytes, now: h.now) }
        let s = h.status(id)
        XCTAssertEqual(s.state, .failed, "not retried: it would be as large again")
        XCTAssertEqual(s.blocks[0].jobs[0].attempt, 1)
        XCTAssertNil(s.blocks[0].jobs[0].output, "the output was not stored")
        XCTAssertTrue(s.blocks[0].jobs[0].error?.contains("output too large") ?? false, "\(s.blocks[0].jobs[0])")
    }
}
