import BatonClient
import BatonWire
import Foundation
import XCTest

/// Broker and worker crashes over real processes: nothing is lost, nothing recorded as
/// done runs again, workers find their way back by themselves.
final class CrashRecoveryTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }
    override func tearDown() { cluster.stopAll() }

    private func waitForEvent(_ client: BatonClient, _ id: String, _ kind: EventKind, timeout: TimeInterval = 20) throws -> WorkflowEvent {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let e = try client.watch(id, after: 0).events.first(where: { $0.kind == kind }) { return e }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure("no \(kind.rawValue) event for \(id) within \(timeout) s")
    }

    func testBrokerKilledMidJobResumesAndTheSameWorkerReconnects() throws {
        let broker = try cluster.startBroker()
        let worker = try cluster.startWorker(types: "sleep,echo", capacity: 2, name: "survivor")
        let client = try cluster.client()
        let wf = WorkflowSpec(name: "mid-job", blocks: [
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["first": true])]),
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "sleep", args: ["ms": 1500], retry: RetryPolicy(maxAttempts: 3, backoffMs: 100))]),
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["last": true])]),
        ])
        let id = try client.submit(wf).id
        _ = try client.exec(id)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, try client.status(id).blocks[1].jobs[0].state != .running { Thread.sleep(forTimeInterval: 0.02) }
        cluster.kill9(broker)
        try cluster.startBroker()
        let final = try client.waitFinal(id)
        XCTAssertEqual(final.state, .succeeded, "\(final)")
        XCTAssertEqual(final.blocks[0].jobs[0].attempt, 1, "the job recorded SUCCEEDED before the crash did not run again")
        XCTAssertEqual(final.blocks[1].jobs[0].attempt, 2, "the unreported attempt ran again as attempt 2")
        XCTAssertTrue(worker.isRunning, "the same worker process served after the restart")
        let events = try client.watch(id, after: 0).events
        let retry = events.first { $0.kind == .jobRetrying }
        XCTAssertEqual(retry?.fields["error"], "broker restarted while the attempt ran")
        XCTAssertEqual(events.map(\.seq), Array(1...Int64(events.count)), "one gapless event log across the crash")
    }

    func testKilledWorkersJobsGoBackToTheQueueForAnotherWorker() throws {
        try cluster.startBroker()
        let doomed = try cluster.startWorker(types: "sleep", capacity: 1, name: "doomed")
        let client = try cluster.client()
        let wf = WorkflowSpec(name: "lost-worker", blocks: [
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "sleep", args: ["ms": 1000], retry: RetryPolicy(maxAttempts: 3, backoffMs: 0))]),
        ])
        let id = try client.submit(wf).id
        _ = try client.exec(id)
        let dispatched = try waitForEvent(client, id, .jobDispatched)
        XCTAssertEqual(dispatched.fields["worker"], "doomed")
        cluster.kill9(doomed)
        try cluster.startWorker(types: "sleep", capacity: 1, name: "heir")
        let final = try client.waitFinal(id)
        XCTAssertEqual(final.state, .succeeded)
        XCTAssertEqual(final.blocks[0].jobs[0].attempt, 2)
        let events = try client.watch(id, after: 0).events
        XCTAssertEqual(events.first { $0.kind == .jobRetrying }?.fields["error"], "worker lost")
        XCTAssertEqual(events.last { $0.kind == .jobDispatched }?.fields["worker"], "heir")
    }

    func testTimedOutJobIsCancelledAndRetried() throws {
        try cluster.startBroker()
        try cluster.startWorker(types: "sleep", capacity: 2, name: "slow")
        let client = try cluster.client()
        let wf = WorkflowSpec(name: "timeouts", blocks: [
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "sleep", args: ["ms": 5000], timeoutMs: 300, retry: RetryPolicy(maxAttempts: 2, backoffMs: 0))]),
        ])
        let id = try client.submit(wf).id
        _ = try client.exec(id)
        let final = try client.waitFinal(id, timeout: 20)
        XCTAssertEqual(final.state, .failed)
        XCTAssertEqual(final.blocks[0].jobs[0].attempt, 2)
        XCTAssertEqual(final.blocks[0].jobs[0].error, "timed out after 300 ms")
    }

    func testGracefulShutdownOnSigtermAndTheNextStartCarriesOn() throws {
        let broker = try cluster.startBroker()
        try cluster.startWorker(types: "echo", capacity: 1, name: "polite")
        let client = try cluster.client()
        let warmup = try client.submit(WorkflowSpec(name: "warmup", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])])).id
        _ = try client.exec(warmup)
        XCTAssertEqual(try client.waitFinal(warmup).state, .succeeded, "the worker is registered")
        let id = try client.submit(WorkflowSpec(name: "later", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])])).id
        kill(broker.processIdentifier, SIGTERM)
        broker.waitUntilExit()
        XCTAssertEqual(broker.terminationStatus, 0, cluster.log("broker.log"))
        XCTAssertTrue(cluster.log("broker.log").contains("stopping: telling workers to disconnect"))
        try cluster.startBroker()
        _ = try client.exec(id)
        XCTAssertEqual(try client.waitFinal(id).state, .succeeded, "the worker reconnected by itself")
        XCTAssertTrue(cluster.log("worker-polite.log").contains("DISCONNECT"), cluster.log("worker-polite.log"))
    }

    func testJobsQueuedWithoutWorkersWaitThenRun() throws {
        try cluster.startBroker()
        let client = try cluster.client()
        let id = try client.submit(WorkflowSpec(name: "patient", blocks: [BlockSpec(concurrency: 2, jobs: [JobSpec(type: "echo"), JobSpec(type: "echo")])])).id
        _ = try client.exec(id)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try client.status(id).count(.pending), 2)
        try cluster.startWorker(types: "echo", capacity: 1, name: "late")
        XCTAssertEqual(try client.waitFinal(id).state, .succeeded)
    }
}
