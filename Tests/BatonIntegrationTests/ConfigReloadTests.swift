import BatonClient
import BatonWire
import Foundation
import XCTest

/// `baton broker --config` as a real process: policies and limits from the file, flags
/// over keys, SIGHUP reloads, a bad reload keeps the running config.
final class ConfigReloadTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
    }

    override func tearDown() {
        cluster?.stopAll()
    }

    private func writeConfig(_ text: String) throws -> String {
        let path = cluster.dir.appendingPathComponent("baton.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func code(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch let e as ClientError {
            return e.code?.rawValue
        } catch {
            return "\(error)"
        }
    }

    /// Polls (bounded) until `condition` holds.
    private func eventually(_ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if try condition() { return }
            usleep(50_000)
        }
        XCTFail("not within 10 s: \(what)\n\(cluster.log("broker.log"))")
    }

    func testPoliciesFromTheFileAndSIGHUPReloadsThem() throws {
        let path = try writeConfig("""
            # flags override keys: the test's --clients/--workers/--db win over these
            clients: tcp://127.0.0.1:1
            default: deny
            policies:
              - name: greetings
                workflows: [hello]
                rules:
                  - allowed_job_types: [echo]
            """)
        let broker = try cluster.startBroker(extra: ["--config", path])
        let client = try cluster.client()
        defer { client.close() }
        let hello = WorkflowSpec(name: "hello", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])])
        let other = WorkflowSpec(name: "rotate-logs", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])])
        let sneaky = WorkflowSpec(name: "hello", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "shell")])])
        XCTAssertNil(code { try client.submit(hello) })
        XCTAssertEqual(code { try client.submit(other) }, "policy_denied", "default: deny")
        XCTAssertEqual(code { try client.submit(sneaky) }, "policy_denied", "allowed_job_types")

        // A bad file: the broker keeps serving with the config in force.
        try "default: [not, a, decision]\n".write(toFile: path, atomically: true, encoding: .utf8)
        kill(broker.processIdentifier, SIGHUP)
        try eventually("the bad reload is logged") { cluster.log("broker.log").contains("keeping the config in force") }
        XCTAssertEqual(code { try client.submit(other) }, "policy_denied")
        XCTAssertTrue(broker.isRunning)

        // A good file: in force at once.
        try "default: allow\n".write(toFile: path, atomically: true, encoding: .utf8)
        kill(broker.processIdentifier, SIGHUP)
        try eventually("the new default allows") { code { try client.submit(other) } == nil }
    }

    func testAJobTypeLimitFromTheFileHoldsJobsWithWaitingFor() throws {
        let path = try writeConfig("""
            limits:
              job_types:
                echo: {rate: 1/hour}
            """)
        try cluster.startBroker(extra: ["--config", path])
        try cluster.startWorker(types: "echo", name: "w1")
        let client = try cluster.client()
        defer { client.close() }
        let id = try client.submit(WorkflowSpec(name: "hello", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])])).id
        _ = try client.exec(id)
        try eventually("STATUS names the limit") {
            try client.status(id).blocks[0].jobs[0].waitingFor?.hasPrefix("rate limit limits.job_types.echo (1/h)") == true
        }
        XCTAssertEqual(try client.status(id).blocks[0].jobs[0].state, .pending, "the bucket starts empty: nothing runs")

        let p = try cluster.start(["limits", "--broker", cluster.clientEndpoint], log: "limits.log")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let out = cluster.log("limits.log")
        XCTAssertTrue(out.contains("echo  1/h burst 1  tokens 0  queued 1  next token"), out)
        XCTAssertTrue(out.contains("emergency stops: none"), out)
    }

    func testABadConfigStopsTheBrokerAtStartNamingLineAndField() throws {
        let path = try writeConfig("""
            limits:
              job_types:
                disk.erase: {rate: 10/fortnight}
            """)
        let p = try cluster.start(["broker", "--config", path, "--clients", cluster.clientEndpoint,
                                   "--workers", cluster.workerEndpoint, "--db", cluster.dbPath], log: "bad.log")
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        let log = cluster.log("bad.log")
        XCTAssertTrue(log.contains("line 3") || log.contains(":3"), log)
        XCTAssertTrue(log.contains("limits.job_types.disk.erase.rate"), log)
    }
}
