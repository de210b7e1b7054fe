import BatonClient
import BatonWire
import Foundation
import XCTest

/// A long job kept alive by PROGRESS (spec §9.2), with real processes: `baton worker`'s
/// `sleep` beats every third of its `heartbeat_timeout_ms`, so a job five times longer
/// than that succeeds on its first attempt, and its details show in `status` and `run`.
final class LongJobTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
    }

    override func tearDown() { cluster.stopAll() }

    func testAJobLongerThanItsHeartbeatTimeoutLivesOnItsProgress() throws {
        try cluster.startWorker(types: "sleep", capacity: 1, name: "w1")
        let file = try cluster.writeFile("erase.json", #"""
            {"name": "erase", "blocks": [{"jobs": [
              {"type": "sleep", "name": "erase-sdb", "args": {"ms": 3000}, "heartbeat_timeout_ms": 600, "retry": {"max_attempts": 1}}]}]}
            """#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        try cluster.waitFor("the first PROGRESS") { cluster.log("run.log").contains("job.progress") }
        let id = try CommandLineText.id(in: cluster.log("run.log"))
        let (code, status) = try cluster.baton(["status", id], log: "status.log")
        XCTAssertEqual(code, 0)
        XCTAssertTrue(status.contains(#"    0.0 erase-sdb  sleep  RUNNING  attempt 1  since "#) && status.contains(#"progress: {"slept_ms":"#), status)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0, cluster.log("run.log"))
        let out = CommandLineText.normalised(cluster.log("run.log"))
        XCTAssertTrue(out.contains(#"<time> [0/1] job.progress 0.0 erase-sdb attempt 1: {"slept_ms":"#), out)
        let final = try cluster.client().status(id)
        XCTAssertEqual(final.blocks[0].jobs[0].attempt, 1, "kept alive 3 s on a 0.6 s heartbeat timeout")
    }
}
