import BatonClient
import BatonWire
import Foundation
import XCTest

/// The handshake and execution over real sockets and real broker/worker processes.
final class HandshakeTests: XCTestCase {
    var cluster: Cluster!
    var probe: Probe?

    override func setUpWithError() throws {
        cluster = try Cluster()
    }

    override func tearDown() {
        probe?.stop()
        cluster.stopAll()
    }

    func testFullHandshakeWithSeveralWorkerProcesses() throws {
        try cluster.startBroker()
        for i in 0..<3 { try cluster.startWorker(capacity: 2, name: "w\(i)") }
        let client = try cluster.client()
        let wf = WorkflowSpec(name: "hello", blocks: [
            BlockSpec(concurrency: 4, jobs: (0..<6).map { _ in JobSpec(type: "sleep", args: ["ms": 100]) }),
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["done": true])]),
        ])
        var ids: [String] = []
        for i in 0..<4 {
            let s = try client.submit(wf, idempotencyKey: "hs-\(i)")
            XCTAssertEqual(s.state, .submitted)
            XCTAssertFalse(s.duplicate)
            XCTAssertEqual(try client.status(s.id).state, .submitted, "SUBMIT runs nothing")
            ids.append(s.id)
        }
        // Resending a SUBMIT with its key is safe: same ID.
        XCTAssertEqual(try client.submit(wf, idempotencyKey: "hs-0").id, ids[0])
        for id in ids { XCTAssertEqual(try client.exec(id).state, .running) }
        var workersUsed = Set<String>()
        for id in ids {
            let final = try client.waitFinal(id)
            XCTAssertEqual(final.state, .succeeded, "\(final)")
            XCTAssertEqual(final.blocks[1].jobs[0].output, ["done": true])
            let events = try client.watch(id, after: 0).events
            for e in events where e.kind == .jobDispatched { workersUsed.insert(e.fields["worker"]?.stringValue ?? "") }
        }
        XCTAssertGreaterThan(workersUsed.count, 1, "jobs spread over several worker processes: \(workersUsed)")
        XCTAssertEqual(try client.exec(ids[0]).state, .succeeded, "EXEC on a finished workflow runs nothing again")
    }

    func testThreeBlocksTwentyJobsKeepConcurrencyMeasuredAtWorkers() throws {
        try cluster.startBroker()
        let probe = Probe()
        self.probe = probe
        try probe.start(count: 3, capacity: 10, endpoint: cluster.workerEndpoint)
        let limits = [2, 5, 3]
        let sizes = [6, 8, 6]
        let wf = WorkflowSpec(name: "limits", blocks: (0..<3).map { b in
            BlockSpec(concurrency: limits[b], jobs: (0..<sizes[b]).map { _ in JobSpec(type: "probe", args: ["ms": 40]) })
        })
        let client = try cluster.client()
        let id = try client.submit(wf).id
        _ = try client.exec(id)
        let final = try client.waitFinal(id)
        XCTAssertEqual(final.state, .succeeded, "\(final)")
        let seen = probe.snapshot()
        XCTAssertEqual(seen.started.count, 20)
        for b in 0..<3 {
            XCTAssertEqual(seen.max[b], limits[b], "block \(b): at most \(limits[b]) at once, and the limit is used")
        }
        // No job of block b+1 started before every job of block b finished.
        for b in 0..<2 {
            let lastEnd = seen.finished.filter { $0.jobId.split(separator: ".")[1] == "\(b)" }.map(\.at).max()!
            let nextStart = seen.started.filter { $0.jobId.split(separator: ".")[1] == "\(b + 1)" }.map(\.at).min()!
            XCTAssertLessThanOrEqual(lastEnd, nextStart, "block \(b + 1) started before block \(b) ended")
        }
    }

    func testFailingJobFailsWorkflowAndLaterBlocksNeverStart() throws {
        try cluster.startBroker()
        let probe = Probe()
        self.probe = probe
        try probe.start(count: 1, capacity: 4, endpoint: cluster.workerEndpoint)
        let wf = WorkflowSpec(name: "fails", blocks: [
            BlockSpec(concurrency: 2, jobs: [
                JobSpec(type: "probe"), JobSpec(type: "boom", retry: RetryPolicy(maxAttempts: 2, backoffMs: 20)),
            ]),
            BlockSpec(concurrency: 2, jobs: [JobSpec(type: "probe"), JobSpec(type: "probe")]),
        ])
        let client = try cluster.client()
        let id = try client.submit(wf).id
        _ = try client.exec(id)
        let final = try client.waitFinal(id)
        XCTAssertEqual(final.state, .failed)
        XCTAssertEqual(final.reason, "job \(id).0.1 (boom) failed after 2 attempts: boom on attempt 2")
        XCTAssertEqual(final.blocks[1].state, .cancelled)
        Thread.sleep(forTimeInterval: 0.3)
        let blocksSeen = Set(probe.startedIds.map { $0.split(separator: ".")[1] })
        XCTAssertEqual(blocksSeen, ["0"], "no job of block 1 ever reached a worker")
        XCTAssertEqual(probe.startedIds.filter { $0.hasSuffix(".0.1") }.count, 2, "two attempts of the failing job")
    }

    func testBrokerKilledAfterIdStillHasTheWorkflow() throws {
        let broker = try cluster.startBroker()
        let client = try cluster.client()
        let wf = WorkflowSpec(name: "durable", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["x": 1])])])
        let submitted = try client.submit(wf, idempotencyKey: "durable-1")
        cluster.kill9(broker)  // right after the ID: the reply came after the commit
        try cluster.startBroker()
        let status = try client.status(submitted.id)
        XCTAssertEqual(status.state, .submitted)
        XCTAssertEqual(try client.submit(wf, idempotencyKey: "durable-1").id, submitted.id, "the key survived too")
        try cluster.startWorker(types: "echo", capacity: 1, name: "after-restart")
        _ = try client.exec(submitted.id)
        XCTAssertEqual(try client.waitFinal(submitted.id).state, .succeeded)
    }

    func testCLIRunDoesTheWholeHandshake() throws {
        try cluster.startBroker()
        try cluster.startWorker(types: "echo,sleep", capacity: 2, name: "cli")
        let file = cluster.dir.appendingPathComponent("wf.json")
        try #"{"name": "cli-run", "blocks": [{"concurrency": 2, "jobs": [{"type": "echo", "args": {"a": 1}}, {"type": "sleep", "args": {"ms": 50}}]}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let run = try cluster.start(["run", file.path, "--broker", cluster.clientEndpoint, "--journal", "journal.jsonl"], log: "run.log")
        run.waitUntilExit()
        let output = cluster.log("run.log")
        XCTAssertEqual(run.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("workflow.succeeded"), output)
        let journal = try String(contentsOf: cluster.dir.appendingPathComponent("journal.jsonl"), encoding: .utf8)
        let lines = journal.split(separator: "\n").map { try! JSONParser.parse(String($0)) }
        XCTAssertEqual(lines.map { $0["step"]?.stringValue }, ["submitting", "submitted", "exec", "finished"], journal)
        XCTAssertEqual(lines.last?["state"], "SUCCEEDED")

        try #"{"name": "bad", "blocks": [{"jobs": [{"args": {}}]}]}"#.write(to: file, atomically: true, encoding: .utf8)
        let bad = try cluster.start(["submit", file.path, "--broker", cluster.clientEndpoint], log: "bad.log")
        bad.waitUntilExit()
        XCTAssertNotEqual(bad.terminationStatus, 0)
        XCTAssertTrue(cluster.log("bad.log").contains("workflow.blocks[0].jobs[0].type: required"), cluster.log("bad.log"))
    }
}
