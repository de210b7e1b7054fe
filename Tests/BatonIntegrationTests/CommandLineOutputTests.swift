import BatonClient
import BatonWire
import Foundation
import XCTest

/// The command line as an operator meets it, with its output redirected to a file (never
/// a terminal): live lines, job names and times, condensed progress for big workflows,
/// `--json` everywhere data is printed, and the broker's log as an audit trail. Lines
/// are compared exactly, after `CommandLineText.normalised` stands in for times, IDs and
/// durations.
final class CommandLineOutputTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
    }

    override func tearDown() { cluster.stopAll() }

    static let demo = #"""
        {"name": "demo", "blocks": [
          {"concurrency": 2, "jobs": [
            {"type": "sleep", "name": "warm-up", "args": {"ms": 10}},
            {"type": "sleep", "name": "sleep-1", "args": {"ms": 1500}}]},
          {"jobs": [{"type": "echo", "name": "after"}]}]}
        """#

    func testARedirectedRunIsLiveAndItsLinesAreExact() throws {
        try cluster.startWorker(types: "echo,sleep", capacity: 2, name: "w1")
        let file = try cluster.writeFile("demo.json", Self.demo)
        // (Jobs of one block are dispatched in spec order within a type; both are `sleep`
        // so that the order of the dispatch lines is fixed.)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        // Live: while the 1.5 s sleep runs, the ID and the events so far are in the file.
        try cluster.waitFor("the sleep's dispatch in run.log") { cluster.log("run.log").contains("job.dispatched 0.1 sleep-1") }
        XCTAssertTrue(run.isRunning, "the lines were written before the run ended")
        XCTAssertTrue(cluster.log("run.log").hasPrefix("submitted "), cluster.log("run.log"))
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 0)
        let out = cluster.log("run.log")
        XCTAssertFalse(out.contains("\u{1B}"), "no colour when stdout is not a terminal")
        XCTAssertEqual(CommandLineText.normalised(out), """
            submitted <id> (demo, 3 job(s) in 2 block(s))
            exec <id>: RUNNING
            <time> [0/3] workflow.submitted
            <time> [0/3] workflow.running
            <time> [0/3] block.started 0
            <time> [0/3] job.dispatched 0.0 warm-up attempt 1 on w1
            <time> [0/3] job.dispatched 0.1 sleep-1 attempt 1 on w1
            <time> [1/3] job.succeeded 0.0 warm-up attempt 1
            <time> [2/3] job.succeeded 0.1 sleep-1 attempt 1
            <time> [2/3] block.succeeded 0
            <time> [2/3] block.started 1
            <time> [2/3] job.dispatched 1.0 after attempt 1 on w1
            <time> [3/3] job.succeeded 1.0 after attempt 1
            <time> [3/3] block.succeeded 1
            <time> [3/3] workflow.succeeded
            workflow <id> "demo": SUCCEEDED
              submitted <time>, started <time>, finished <time> (ran <dur>)
              block 0: SUCCEEDED (2 job(s): 2 SUCCEEDED)
                0.0 warm-up  sleep  SUCCEEDED  attempt 1  <dur>  output: {"slept_ms":10}
                0.1 sleep-1  sleep  SUCCEEDED  attempt 1  <dur>  output: {"slept_ms":1500}
              block 1: SUCCEEDED (1 job(s): 1 SUCCEEDED)
                1.0 after  echo  SUCCEEDED  attempt 1  <dur>  output: {}

            """)
        // `status` prints the same picture, with the same names and times.
        let id = try CommandLineText.id(in: out)
        let (code, status) = try cluster.baton(["status", id], log: "status.log")
        XCTAssertEqual(code, 0)
        XCTAssertEqual(CommandLineText.normalised(status).split(separator: "\n").first, #"workflow <id> "demo": SUCCEEDED"#)
        XCTAssertTrue(status.contains("    0.1 sleep-1  sleep  SUCCEEDED  attempt 1  1."), status)
    }

    func testAThousandJobWorkflowIsCondensedWithRightCountsAndStatusSummarises() throws {
        try cluster.startWorker(types: "echo", capacity: 50, name: "w1")
        let jobs = (0..<1000).map { #"{"type": "echo", "name": "host-\#($0)"}"# }.joined(separator: ",")
        let file = try cluster.writeFile("big.json", #"{"name": "big", "blocks": [{"concurrency": 100, "jobs": [\#(jobs)]}, {"jobs": [{"type": "echo", "name": "report"}]}]}"#)
        let (code, out) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(code, 0, out)
        let lines = CommandLineText.normalised(out).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[2], "<time> [0/1001] workflow.submitted", "counts start at 0, not at what a snapshot already holds")
        let tenths = (1...10).map { "<time> [\($0 * 100)/1001] block 0: \($0 * 100)/1000 job(s) succeeded" }
        XCTAssertEqual(lines.filter { $0.hasPrefix("<time>") && $0.contains("block 0: ") }, tenths)
        XCTAssertTrue(lines.contains("<time> [1001/1001] block 1: 1/1 job(s) succeeded"), out)
        XCTAssertTrue(lines.contains("<time> [1001/1001] workflow.succeeded"), out)
        XCTAssertFalse(out.contains("job.dispatched"), "dispatches are counted, not listed")
        XCTAssertLessThan(lines.count, 40, out)
        XCTAssertTrue(lines.contains("  block 0: SUCCEEDED (1000 job(s): 1000 SUCCEEDED)"), out)
        let id = try CommandLineText.id(in: out)
        XCTAssertTrue(lines.contains("    … 1000 job(s) not shown (`baton status <id> --all` shows every job)"), out)

        let (allCode, all) = try cluster.baton(["status", id, "--all"], log: "status-all.log")
        XCTAssertEqual(allCode, 0)
        XCTAssertEqual(all.split(separator: "\n").filter { $0.hasPrefix("    0.") }.count, 1000)
        XCTAssertTrue(all.contains("    0.999 host-999  echo  SUCCEEDED  attempt 1  "), all)

        let (verboseCode, verbose) = try cluster.baton(["watch", id, "--verbose"], log: "watch-verbose.log")
        XCTAssertEqual(verboseCode, 0)
        XCTAssertEqual(verbose.split(separator: "\n").filter { $0.contains("job.dispatched") }.count, 1001, "--verbose prints every event")
    }

    func testJSONOnEveryCommandThatPrintsData() throws {
        try cluster.startWorker(types: "echo,sleep,fail", capacity: 2, name: "w1")
        let file = try cluster.writeFile("flaky.json", #"""
            {"name": "flaky", "blocks": [{"jobs": [
              {"type": "echo", "name": "ok"},
              {"type": "fail", "name": "boom", "args": {"message": "disk not found"}, "retry": {"max_attempts": 2, "backoff_ms": 10}}]}]}
            """#)
        let (code, out) = try cluster.baton(["run", file, "--json", "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(code, 1, out)
        let objects = try out.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        let types = objects.compactMap { $0["type"]?.stringValue }
        XCTAssertEqual(types.count, objects.count, "every line is an object with a type")
        XCTAssertEqual(types.first, "submitted")
        XCTAssertEqual(types[1], "exec")
        XCTAssertEqual(types.last, "final")
        XCTAssertEqual(Set(types.dropFirst(2).dropLast()), ["event"])
        let final = try XCTUnwrap(objects.last?["status"])
        XCTAssertEqual(final["state"], "FAILED")
        let id = try XCTUnwrap(final["id"]?.stringValue)

        let (statusCode, status) = try cluster.baton(["status", id, "--json"], log: "status.log")
        XCTAssertEqual(statusCode, 0)
        let jobs = try JSONParser.parse(status)["blocks"]?.arrayValue?.first?["jobs"]?.arrayValue ?? []
        XCTAssertEqual(jobs.count, 2)
        let attempts = jobs[1]["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["outcome"]?.stringValue }, ["retried", "failed"])
        XCTAssertEqual(attempts.map { $0["worker"]?.stringValue }, ["w1", "w1"])
        XCTAssertEqual(attempts.map { $0["error"]?.stringValue }, ["disk not found", "disk not found"])
        XCTAssertEqual(jobs[0]["attempts"]?.arrayValue?.map { $0["outcome"]?.stringValue }, ["succeeded"])

        let (listCode, list) = try cluster.baton(["list", "--json"], log: "list.log")
        XCTAssertEqual(listCode, 0)
        XCTAssertEqual(try JSONParser.parse(list)["workflows"]?.arrayValue?.first?["id"]?.stringValue, id)

        let (watchCode, watch) = try cluster.baton(["watch", id, "--json"], log: "watch.log")
        XCTAssertEqual(watchCode, 1, "watch of a FAILED workflow exits 1")
        let watched = try watch.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        XCTAssertEqual(watched.first?["event"]?["kind"], "workflow.submitted")
        XCTAssertEqual(watched.last?["type"], "final")

        let (submitCode, submit) = try cluster.baton(["submit", file, "--json", "--key", "k1"], log: "submit.log")
        XCTAssertEqual(submitCode, 0)
        XCTAssertEqual(try JSONParser.parse(submit)["duplicate"], false)
        let (pingCode, ping) = try cluster.baton(["ping", "--json"], log: "ping.log")
        XCTAssertEqual(pingCode, 0)
        XCTAssertEqual(try JSONParser.parse(ping)["pong"], true)
    }

    func testLongValuesAreCutWithAnEllipsisOnOneLine() throws {
        try cluster.startWorker(types: "echo,fail", capacity: 2, name: "w1")
        let long = String(repeating: "x", count: 500)
        let file = try cluster.writeFile("long.json", #"""
            {"name": "long", "blocks": [{"jobs": [
              {"type": "echo", "name": "big-output", "args": {"pad": "\#(long)"}},
              {"type": "fail", "name": "long-error", "args": {"message": "line one\n\#(long)"}, "retry": {"max_attempts": 1}}]}]}
            """#)
        let (code, out) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(code, 1, out)
        let id = try CommandLineText.id(in: out)
        let (statusCode, status) = try cluster.baton(["status", id], log: "status.log")
        XCTAssertEqual(statusCode, 0)
        let lines = status.split(separator: "\n").map(String.init)
        let output = try XCTUnwrap(lines.first { $0.hasPrefix("    0.0 big-output") })
        XCTAssertTrue(output.hasSuffix(#"output: {"pad":"\#(String(repeating: "x", count: 111))…"#), output)
        let error = try XCTUnwrap(lines.first { $0.hasPrefix("    0.1 long-error") })
        XCTAssertTrue(error.contains("error: line one⏎xxx"), "a newline in a value does not break the line: \(error)")
        XCTAssertTrue(error.hasSuffix("x…"), error)
        XCTAssertLessThan(error.count, 300, error)
    }

    func testShellCompletionScriptsComeFromTheParser() throws {
        for shell in ["bash", "zsh", "fish"] {
            let (code, out) = try cluster.batonExactly(["--generate-completion-script", shell], log: "completion-\(shell).log")
            XCTAssertEqual(code, 0, out)
            XCTAssertTrue(out.contains("resume") && out.contains("submit-pending"), "\(shell) completes subcommands and flags")
        }
    }

    func testListHasAHeaderRowAndAStateErrorListsTheStates() throws {
        try cluster.startWorker(types: "echo", capacity: 2, name: "w1")
        let file = try cluster.writeFile("one.json", #"{"name": "one", "blocks": [{"jobs": [{"type": "echo"}]}]}"#)
        XCTAssertEqual(try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log").0, 0)
        let (code, out) = try cluster.baton(["list"], log: "list.log")
        XCTAssertEqual(code, 0)
        XCTAssertEqual(CommandLineText.normalised(out), """
            ID                          STATE      SUBMITTED                 NAME                  OWNER
            <id>  SUCCEEDED  <time>  one                   -

            """)
        let (bad, badOut) = try cluster.baton(["list", "--state", "done"], log: "list-bad.log")
        XCTAssertEqual(bad, 64)
        XCTAssertTrue(badOut.contains(#"--state: unknown state "done"; the states are SUBMITTED, RUNNING, SUCCEEDED, FAILED, CANCELLED, STOPPED, EXPIRED"#), badOut)
    }

    func testTheBrokerLogIsAnAuditTrailWithoutWarningsForNormalEvents() throws {
        let worker = try cluster.startWorker(types: "echo,sleep", capacity: 2, name: "w1")
        // The worker's process and the client's start at once; the trail below is the one
        // where the worker is in before the workflow comes (otherwise the two lines swap).
        try cluster.waitFor("the worker's joining in the broker log") { cluster.log("broker.log").contains("worker w1 joined") }
        let file = try cluster.writeFile("demo.json", Self.demo)
        let (code, out) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(code, 0, out)
        kill(worker.processIdentifier, SIGTERM)  // a clean stop: drain, then DISCONNECT
        worker.waitUntilExit()
        try cluster.waitFor("the worker's leaving in the broker log") { cluster.log("broker.log").contains("worker w1 left") }
        let log = CommandLineText.normalised(cluster.log("broker.log"))
        let audit = log.split(separator: "\n").filter { $0.contains(" workflow <id> ") || $0.contains(" worker w1 ") }
        XCTAssertEqual(audit, [
            "<time> info baton.broker: worker w1 joined: types echo,sleep, capacity 2",
            #"<time> info baton.broker: workflow <id> submitted: "demo", 3 job(s), by a plain-mode client"#,
            #"<time> info baton.broker: workflow <id> executed: "demo", by a plain-mode client"#,
            #"<time> info baton.broker: workflow <id> finished SUCCEEDED: "demo", no owner (plain mode)"#,
            "<time> info baton.broker: worker w1 draining: no new jobs; 0 running job(s) may finish",
            "<time> info baton.broker: worker w1 left (worker disconnected); 0 running job(s) go back to the queue",
        ])
        XCTAssertFalse(log.contains(" warning "), "a clean run and a clean worker stop are not warnings:\n\(log)")
    }

    func testColourOnlyOnATerminalAndNeverWithNoColor() throws {
        try cluster.startWorker(types: "echo", capacity: 2, name: "w1")
        let file = try cluster.writeFile("one.json", #"{"name": "one", "blocks": [{"jobs": [{"type": "echo"}]}]}"#)
        XCTAssertEqual(try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log").0, 0)
        // util-linux `script` gives the command a pseudo-terminal.
        let list = "\(Cluster.binary) list --broker \(cluster.clientEndpoint)"
        let (ttyCode, tty) = try cluster.batonScript(list, log: "tty.log", environment: ["NO_COLOR": nil])
        XCTAssertEqual(ttyCode, 0, tty)
        XCTAssertTrue(tty.contains("\u{1B}[32mSUCCEEDED\u{1B}[0m"), "green on a terminal: \(tty)")
        let (plainCode, plain) = try cluster.batonScript(list, log: "tty-nocolor.log", environment: ["NO_COLOR": "1"])
        XCTAssertEqual(plainCode, 0, plain)
        XCTAssertTrue(plain.contains("SUCCEEDED"), plain)
        XCTAssertFalse(plain.contains("\u{1B}["), "NO_COLOR: \(plain)")
    }
}

/// Stand-ins for what changes from run to run, so output can be compared line by line.
enum CommandLineText {
    static func normalised(_ text: String) -> String {
        var t = text
        let patterns: [(String, String)] = [
            (#"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"#, "<time>"),
            (#"\b[0-9A-HJKMNP-TV-Z]{26}\b"#, "<id>"),
            (#"\brun-[0-9a-f-]{36}\b"#, "<key>"),
            (#"\b\d+(\.\d)? (ms|s)\b"#, "<dur>"),
        ]
        for (pattern, stand) in patterns {
            t = t.replacingOccurrences(of: pattern, with: stand, options: .regularExpression)
        }
        return t
    }

    /// The workflow ID a `run` printed first (`submitted ID (...)`).
    static func id(in output: String) throws -> String {
        guard let r = output.range(of: #"\b[0-9A-HJKMNP-TV-Z]{26}\b"#, options: .regularExpression) else {
            throw TestFailure("no workflow ID in:\n\(output)")
        }
        return String(output[r])
    }
}

extension Cluster {
    /// Runs `command` under util-linux `script`, which gives it a pseudo-terminal for
    /// stdout (for what a person at a terminal sees): exit code and what it printed.
    func batonScript(_ command: String, log: String, environment: [String: String?]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", command, dir.appendingPathComponent(log).path]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, self.log(log))
    }
}
