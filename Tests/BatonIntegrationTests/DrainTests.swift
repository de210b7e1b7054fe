import BatonClient
import BatonWire
import Foundation
import XCTest

/// Draining workers (spec §9: READY with capacity 0): `baton worker` on SIGTERM takes no
/// new jobs, lets its running ones finish, then leaves. Rolling every worker of a fleet
/// this way re-runs nothing; a second SIGTERM leaves at once.
final class DrainTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
    }

    override func tearDown() { cluster.stopAll() }

    /// Every job's dispatches, from the events: job id -> worker names in attempt order.
    private func dispatches(_ id: String) throws -> [String: [String]] {
        let client = try cluster.client()
        defer { client.close() }
        var out: [String: [String]] = [:]
        var after: Int64 = 0
        while true {
            let page = try client.watch(id, after: after, waitMs: 0)
            guard let last = page.events.last else { return out }
            for e in page.events where e.kind == .jobDispatched {
                out[e.fields["job_id"]?.stringValue ?? "?", default: []].append(e.fields["worker"]?.stringValue ?? "?")
            }
            after = last.seq
        }
    }

    func testARollingRestartOfEveryWorkerRerunsNothing() throws {
        let w1 = try cluster.startWorker(types: "sleep", capacity: 2, name: "w1")
        let w2 = try cluster.startWorker(types: "sleep", capacity: 2, name: "w2")
        let jobs = (0..<8).map { #"{"type": "sleep", "name": "s\#($0)", "args": {"ms": 1200}, "retry": {"max_attempts": 1}}"# }
        let file = try cluster.writeFile("roll.json", #"{"name": "roll", "blocks": [{"concurrency": 4, "jobs": [\#(jobs.joined(separator: ","))]}]}"#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        try cluster.waitFor("four jobs running") { cluster.log("run.log").components(separatedBy: "job.dispatched").count - 1 >= 4 }

        // Roll the fleet: each old worker gets SIGTERM while its jobs run, a new one joins.
        kill(w1.processIdentifier, SIGTERM)
        try cluster.startWorker(types: "sleep", capacity: 2, name: "w3")
        kill(w2.processIdentifier, SIGTERM)
        try cluster.startWorker(types: "sleep", capacity: 2, name: "w4")
        for w in [w1, w2] {
            w.waitUntilExit()
            XCTAssertEqual(w.terminationStatus, 0)
        }
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0, "max_attempts 1: a re-run job would have failed the workflow\n\(cluster.log("run.log"))")

        let id = try CommandLineText.id(in: cluster.log("run.log"))
        let status = try cluster.client().status(id)
        XCTAssertEqual(status.state, .succeeded)
        XCTAssertEqual(status.blocks[0].jobs.map(\.attempt), Array(repeating: 1, count: 8), "nothing ran twice")
        let byJob = try dispatches(id)
        XCTAssertEqual(byJob.values.map(\.count), Array(repeating: 1, count: 8))
        let ran = byJob.values.flatMap { $0 }
        XCTAssertTrue(ran.contains("w1") && ran.contains("w2"), "the old workers finished what they had: \(byJob)")
        XCTAssertTrue(ran.contains("w3") || ran.contains("w4"), "the new workers took the rest: \(byJob)")
        for name in ["w1", "w2"] {
            XCTAssertTrue(cluster.log("worker-\(name).log").contains("worker \(name) drained: every running job finished; leaving"),
                          cluster.log("worker-\(name).log"))
            XCTAssertTrue(cluster.log("broker.log").contains("worker \(name) draining: no new jobs; "), cluster.log("broker.log"))
            XCTAssertTrue(cluster.log("broker.log").contains("worker \(name) left (worker disconnected); 0 running job(s) go back to the queue"))
        }
    }

    func testASecondSIGTERMLeavesAtOnceAndTheJobIsRetried() throws {
        let w1 = try cluster.startWorker(types: "sleep", capacity: 1, name: "w1")
        let file = try cluster.writeFile("long.json", #"{"name": "long", "blocks": [{"jobs": [{"type": "sleep", "args": {"ms": 30000}}]}]}"#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        try cluster.waitFor("the job running") { cluster.log("run.log").contains("job.dispatched") }
        kill(w1.processIdentifier, SIGTERM)
        try cluster.waitFor("the drain") { cluster.log("worker-w1.log").contains("draining") }
        let second = Date()
        kill(w1.processIdentifier, SIGTERM)
        w1.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(second), 10, "the second SIGTERM does not wait for the 30 s job")
        try cluster.startWorker(types: "sleep", capacity: 1, name: "w2")
        try cluster.waitFor("the retry on w2") { cluster.log("run.log").contains("job.dispatched 0.0 sleep attempt 2 on w2") }
        kill(run.processIdentifier, SIGINT)
        run.waitUntilExit()
    }

    func testADrainingWorkerGetsNoNewJobAndStatusSaysWhy() throws {
        let w1 = try cluster.startWorker(types: "sleep", capacity: 2, name: "w1")
        let file = try cluster.writeFile("two.json", #"{"name": "two", "blocks": [{"jobs": [{"type": "sleep", "args": {"ms": 1500}}]}, {"jobs": [{"type": "sleep", "args": {"ms": 10}}]}]}"#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        try cluster.waitFor("block 0 running") { cluster.log("run.log").contains("job.dispatched 0.0") }
        kill(w1.processIdentifier, SIGTERM)
        w1.waitUntilExit()  // it finished block 0's job, then left: block 1's job got no worker
        XCTAssertEqual(w1.terminationStatus, 0)
        let id = try CommandLineText.id(in: cluster.log("run.log"))
        try cluster.waitFor("block 1 waiting") {
            let s = try cluster.client().status(id)
            return s.blocks.count == 2 && s.blocks[1].jobs[0].waitingFor == "no worker for sleep"
        }
        XCTAssertEqual(try cluster.client().status(id).blocks[0].jobs[0].state, .succeeded, "the running job finished during the drain")
        XCTAssertFalse(cluster.log("run.log").contains("job.dispatched 1.0"), "no JOB went to the draining worker")
        try cluster.startWorker(types: "sleep", capacity: 2, name: "w2")
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0)
    }
}
