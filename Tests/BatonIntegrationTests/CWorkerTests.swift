import BatonClient
import Foundation
import XCTest

/// The C worker in `Protocol/examples/c-worker/worker.c`, written from the spec alone (§9),
/// against a real broker: it registers, answers an echo job, keeps a long job alive with
/// PROGRESS past its `heartbeat_timeout_ms`, and drains on SIGTERM (READY capacity 0, the
/// running job finishes on attempt 1, DISCONNECT, exit 0). Compiled here with `cc`; the
/// test is skipped when `cc` or libzmq's headers or library are missing.
final class CWorkerTests: XCTestCase {
    var cluster: Cluster!
    private var workers: [Process] = []
    private var workerBinary = ""

    override func setUpWithError() throws {
        cluster = try Cluster()
        do {
            try compileWorker()
            try cluster.startBroker()
        } catch {
            cluster.stopAll()
            throw error
        }
    }

    override func tearDown() {
        for p in workers where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        workers = []
        cluster.stopAll()
    }

    /// `Protocol/examples/c-worker/worker.c`, found from this file.
    private static var source: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Protocol/examples/c-worker/worker.c").path
    }

    /// Runs `cc ARGS` in the cluster's directory: exit code and what it printed.
    private func cc(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["cc"] + args
        p.currentDirectoryURL = cluster.dir
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// Skips when this machine cannot build a libzmq program; fails when it can but
    /// worker.c does not compile.
    private func compileWorker() throws {
        let probe = try cluster.writeFile("probe.c", """
            #include <zmq.h>
            int main(void) { int a, b, c; zmq_version(&a, &b, &c); return 0; }
            """)
        let (probeCode, probeText) = try cc(["-std=c99", probe, "-lzmq", "-o", "probe"])
        if probeCode != 0 {
            let reason = "CWorkerTests skipped: `cc` with libzmq's headers and library is needed to build "
                + "Protocol/examples/c-worker/worker.c (cc exited \(probeCode)): \(probeText)"
            print(reason)
            throw XCTSkip(reason)
        }
        workerBinary = cluster.dir.appendingPathComponent("c-worker").path
        let (code, text) = try cc(["-std=c99", "-O2", "-Wall", Self.source, "-lzmq", "-o", workerBinary])
        guard code == 0 else { throw TestFailure("worker.c does not compile (cc exited \(code)):\n\(text)") }
    }

    /// Starts the C worker for type `c.echo`; its output goes to `cworker-NAME.log`.
    @discardableResult
    private func startCWorker(name: String, capacity: Int = 1) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: workerBinary)
        p.arguments = [cluster.workerEndpoint, name, "c.echo", "\(capacity)"]
        p.currentDirectoryURL = cluster.dir
        let logURL = cluster.dir.appendingPathComponent("cworker-\(name).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        workers.append(p)
        try cluster.waitFor("worker \(name) registered", seconds: 30) {
            cluster.log("cworker-\(name).log").contains("READY answered")
        }
        return p
    }

    /// Waits (bounded, against hangs only) for `p` to end.
    private func waitForExit(_ p: Process, _ what: String, seconds: TimeInterval = 60) throws {
        try cluster.waitFor(what, seconds: seconds) { !p.isRunning }
        p.waitUntilExit()
    }

    private let longJob = #"""
        {"name": "c-long", "blocks": [{"jobs": [
          {"type": "c.echo", "name": "slow", "args": {"sleep_ms": 3000}, "heartbeat_timeout_ms": 600,
           "retry": {"max_attempts": 1}}]}]}
        """#

    func testEchoAndALongJobKeptAliveByProgress() throws {
        try startCWorker(name: "cw")

        // Echo: the args object comes back verbatim under "echoed".
        let echo = try cluster.writeFile("echo.json", #"{"name": "c", "blocks": [{"jobs": [{"type": "c.echo", "args": {"x": 1}}]}]}"#)
        let (code, out) = try cluster.baton(["run", echo, "--journal", "j.jsonl"], log: "run-echo.log")
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains(#"SUCCEEDED  attempt 1"#) && out.contains(#"output: {"echoed":{"x":1}}"#), out)
        let echoStatus = try cluster.client().status(try CommandLineText.id(in: out))
        XCTAssertEqual(echoStatus.state, .succeeded)
        XCTAssertEqual(echoStatus.blocks[0].jobs[0].attempt, 1)

        // A job five times longer than its heartbeat_timeout_ms lives on PROGRESS
        // (max_attempts 1: a heartbeat timeout would fail the workflow).
        let file = try cluster.writeFile("long.json", longJob)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run-long.log")
        try cluster.waitFor("the first PROGRESS", seconds: 30) { cluster.log("run-long.log").contains("job.progress") }
        let id = try CommandLineText.id(in: cluster.log("run-long.log"))
        let (statusCode, status) = try cluster.baton(["status", id], log: "status.log")
        XCTAssertEqual(statusCode, 0, status)
        XCTAssertTrue(status.contains("RUNNING  attempt 1") && status.contains(#"progress: {"of_ms":3000,"slept_ms":"#), status)
        try waitForExit(run, "the long workflow's end")
        let runLog = cluster.log("run-long.log")
        XCTAssertEqual(run.terminationStatus, 0, runLog + "\n" + cluster.log("cworker-cw.log"))
        XCTAssertTrue(runLog.contains(#"output: {"echoed":{"sleep_ms":3000}}"#), runLog)
        let final = try cluster.client().status(id)
        XCTAssertEqual(final.state, .succeeded)
        XCTAssertEqual(final.blocks[0].jobs[0].attempt, 1, "kept alive 3 s on a 0.6 s heartbeat timeout")
    }

    func testSIGTERMDrainsTheRunningJobAndExitsZero() throws {
        let worker = try startCWorker(name: "cw")
        let file = try cluster.writeFile("long.json", longJob)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        try cluster.waitFor("the job running", seconds: 30) { cluster.log("run.log").contains("job.progress") }
        XCTAssertTrue(worker.isRunning)
        kill(worker.processIdentifier, SIGTERM)

        try waitForExit(worker, "the worker's exit after its drain")
        let workerLog = cluster.log("cworker-cw.log")
        XCTAssertEqual(worker.terminationReason, .exit, workerLog)
        XCTAssertEqual(worker.terminationStatus, 0, workerLog)
        XCTAssertTrue(workerLog.contains("READY capacity 0 sent") && workerLog.contains("drained: every job it held has ended"),
                      workerLog)
        XCTAssertTrue(cluster.log("broker.log").contains("worker cw draining"), cluster.log("broker.log"))
        // The worker exits right after its DISCONNECT; the broker logs it at its next
        // turn, which on a loaded machine can come after the worker's exit is seen here.
        try cluster.waitFor("the broker's line for the worker's DISCONNECT") {
            cluster.log("broker.log").contains("worker cw left (worker disconnected); 0 running job(s) go back to the queue")
        }

        try waitForExit(run, "the workflow's end")
        let runLog = cluster.log("run.log")
        XCTAssertEqual(run.terminationStatus, 0, "max_attempts 1: a lost attempt would have failed it\n\(runLog)")
        XCTAssertEqual(runLog.components(separatedBy: "job.dispatched").count - 1, 1, runLog)
        let id = try CommandLineText.id(in: runLog)
        let status = try cluster.client().status(id)
        XCTAssertEqual(status.state, .succeeded)
        XCTAssertEqual(status.blocks[0].jobs[0].attempt, 1, "the drain let the running job finish")
        XCTAssertTrue(runLog.contains(#"output: {"echoed":{"sleep_ms":3000}}"#), runLog)
    }
}
