import BatonClient
import BatonWire
import Foundation
import XCTest

/// The emergency stop with real processes: `baton stop` while `baton run` follows a
/// workflow, refusals while it holds, `baton go`, `baton resume` continuing it, and the
/// stop surviving a broker restart.
final class EmergencyStopTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
        try cluster.startWorker(types: "echo,sleep", capacity: 4, name: "w")
    }

    override func tearDown() { cluster.stopAll() }

    /// Polls (bounded) until `condition` holds.
    private func eventually(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestFailure("not within 20 s: \(what)\n\(cluster.log("broker.log"))")
    }

    func testStopDuringARunThenGoAndResumeFinishItWithoutRerunningSucceededJobs() throws {
        let file = cluster.dir.appendingPathComponent("erase.json").path
        try #"{"name": "erase", "blocks": [{"jobs": [{"type": "echo"}]}, {"jobs": [{"type": "sleep", "args": {"ms": 1500}, "retry": {"max_attempts": 1}}]}, {"jobs": [{"type": "echo"}]}]}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        let client = try cluster.client()
        defer { client.close() }
        var id = ""
        try eventually("the sleep job runs") {
            guard let w = try client.list(ListRequest(name: "erase")).workflows.first else { return false }
            id = w.id
            return try client.status(id).blocks[1].jobs[0].state == .running
        }

        let (stopped, stopOut) = try cluster.baton(["stop", "--name", "erase", "--reason", "drill"], log: "stop.log")
        XCTAssertEqual(stopped, 0, stopOut)
        XCTAssertTrue(stopOut.contains("1 RUNNING workflow(s) moved to STOPPED"), stopOut)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 1, "the run ends, not SUCCEEDED")
        XCTAssertTrue(cluster.log("run.log").contains("an emergency stop holds \(id)"), cluster.log("run.log"))
        let s = try client.status(id)
        XCTAssertEqual(s.state, .stopped)
        XCTAssertEqual(s.reason, "stopped: drill")

        let (refused, refusedOut) = try cluster.baton(["submit", file], log: "submit.log")
        XCTAssertEqual(refused, 2)
        XCTAssertTrue(refusedOut.contains("stopped") && refusedOut.contains("drill"), refusedOut)

        let (went, goOut) = try cluster.baton(["go", "--name", "erase"], log: "go.log")
        XCTAssertEqual(went, 0, goOut)
        let (resumed, resumeOut) = try cluster.baton(["resume", "--journal", "j.jsonl"], log: "resume.log")
        XCTAssertEqual(resumed, 0, resumeOut)
        let final = try client.status(id)
        XCTAssertEqual(final.state, .succeeded)
        XCTAssertEqual(final.blocks.flatMap(\.jobs).map(\.attempt), [1, 2, 1],
                       "block 0 ran once; the stopped attempt did not count against max_attempts 1")
    }

    func testAStopOfEveryNameSurvivesABrokerRestart() throws {
        let (code, out) = try cluster.baton(["stop", "--all", "--reason", "change freeze"], log: "stop.log")
        XCTAssertEqual(code, 0, out)
        cluster.kill9(cluster.broker!)
        try cluster.startBroker()
        let client = try cluster.client()
        defer { client.close() }
        let spec = WorkflowSpec(name: "anything", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])])
        XCTAssertThrowsError(try client.submit(spec)) { error in
            guard case .remote(let e) = error as? ClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, .stopped)
            XCTAssertEqual(e.details["name"], "*")
            XCTAssertEqual(e.details["reason"], "change freeze")
        }
        try client.resume(name: "*")
        XCTAssertNoThrow(try client.submit(spec))
    }

    func testStopNeedsExactlyOneTarget() throws {
        let (code, out) = try cluster.baton(["stop", "--reason", "x"], log: "bad.log")
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(out.contains("exactly one of --all and --name"), out)
    }
}

/// The emergency stop file with a real broker process: edits take effect within a
/// second, a broken file stops everything.
final class EmergencyStopFileIntegrationTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
    }

    override func tearDown() { cluster.stopAll() }

    private func submitCode(_ client: BatonClient, _ name: String) -> String? {
        do {
            _ = try client.submit(WorkflowSpec(name: name, blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])]))
            return nil
        } catch let e as ClientError {
            return e.code?.rawValue ?? "\(e)"
        } catch {
            return "\(error)"
        }
    }

    private func eventually(_ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if condition() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("not within 10 s: \(what)\n\(cluster.log("broker.log"))")
    }

    func testEditsOfTheStopFileTakeEffectAndABrokenFileStopsEverything() throws {
        let stopFile = cluster.dir.appendingPathComponent("es.yaml").path
        try "erase: stop\n".write(toFile: stopFile, atomically: true, encoding: .utf8)
        let config = cluster.dir.appendingPathComponent("baton.yaml").path
        try "emergency_stop_file: \(stopFile)\n".write(toFile: config, atomically: true, encoding: .utf8)
        try cluster.startBroker(extra: ["--config", config])
        let client = try cluster.client()
        defer { client.close() }
        XCTAssertEqual(submitCode(client, "erase"), "stopped", "in force from the first request")
        XCTAssertNil(submitCode(client, "rollout"))

        try "erase: go\n".write(toFile: stopFile, atomically: true, encoding: .utf8)
        try eventually("the edit lifts the stop") { submitCode(client, "erase") == nil }

        try "erase: perhaps\n".write(toFile: stopFile, atomically: true, encoding: .utf8)
        try eventually("a broken file stops every name") { submitCode(client, "rollout") == "stopped" }
        XCTAssertTrue(cluster.log("broker.log").contains("stopping every workflow until it is readable and valid"))

        try FileManager.default.removeItem(atPath: stopFile)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(submitCode(client, "rollout"), "stopped", "a missing file is unreadable: still stopped")
        try "\"*\": go\n".write(toFile: stopFile, atomically: true, encoding: .utf8)
        try eventually("a valid file again") { submitCode(client, "rollout") == nil }
    }
}
