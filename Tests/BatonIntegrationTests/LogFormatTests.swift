import BatonWire
import Foundation
import XCTest

/// `--log-format json` with real processes: every line the broker and the worker write
/// on standard error is one JSON object with the time, level, logger and message, and
/// the audit lines carry what they name as fields of their own (`workflow_id`, `worker`).
/// The text format's lines are checked byte for byte by `CommandLineOutputTests`.
final class LogFormatTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }

    override func tearDown() { cluster.stopAll() }

    func testBrokerAndWorkerWriteOneJSONObjectPerLine() throws {
        let broker = try cluster.startBroker(extra: ["--log-format", "json"])
        let worker = try cluster.startWorker(types: "echo", capacity: 1, name: "w-json", extra: ["--log-format", "json"])
        let file = try cluster.writeFile("one.json", #"{"name": "json-logs", "blocks": [{"jobs": [{"type": "echo"}]}]}"#)
        let (code, out) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(code, 0, out)
        let id = try CommandLineText.id(in: out)
        // A clean stop of both, so their leaving and stopping lines are in the logs too.
        kill(worker.processIdentifier, SIGTERM)
        worker.waitUntilExit()
        try cluster.waitFor("the worker's leaving in the broker log") { cluster.log("broker.log").contains("worker w-json left") }
        kill(broker.processIdentifier, SIGTERM)
        broker.waitUntilExit()

        let brokerLines = try jsonLines("broker.log", logger: "baton.broker")
        let workerLines = try jsonLines("worker-w-json.log", logger: "baton.worker")
        XCTAssertGreaterThan(workerLines.count, 1, "the worker's connecting and leaving lines")

        func line(_ prefix: String) -> [String: JSONValue]? {
            brokerLines.first { $0["message"]?.stringValue?.hasPrefix(prefix) ?? false }
        }
        for event in ["submitted", "executed", "finished SUCCEEDED"] {
            let found = try XCTUnwrap(line("workflow \(id) \(event)"), "\(event):\n\(cluster.log("broker.log"))")
            XCTAssertEqual(found["workflow_id"], .string(id), event)
            XCTAssertEqual(found["level"], "info", event)
        }
        for event in ["joined", "draining", "left"] {
            XCTAssertEqual(line("worker w-json \(event)")?["worker"], "w-json", event)
        }
        XCTAssertNotNil(line("broker stopped"))
    }

    /// The config key `log_format` does what the flag does; the flag wins over it.
    func testTheConfigKeyAndTheFlagOverIt() throws {
        let config = try cluster.writeFile("baton.yaml", "log_format: json\n")
        let broker = try cluster.startBroker(extra: ["--config", config])
        kill(broker.processIdentifier, SIGTERM)
        broker.waitUntilExit()
        let lines = try jsonLines("broker.log", logger: "baton.broker")
        XCTAssertTrue(lines.contains { $0["message"]?.stringValue?.hasPrefix("config baton.yaml") ?? false },
                      cluster.log("broker.log"))

        let text = try cluster.start(["broker", "--clients", "tcp://127.0.0.1:\(try freePort())", "--workers",
                                      "tcp://127.0.0.1:\(try freePort())", "--db", "text.db", "--config", config,
                                      "--log-format", "text"], log: "text.log")
        // Signalled once it serves, not at its first line, so that it stops gracefully
        // and writes its last lines: a SIGTERM in its first milliseconds ends it by the
        // default action (`SignalStopper`; before 2026-12-07 such a signal was lost, the
        // broker ran on and this test hung in `waitUntilExit`).
        try cluster.waitFor("the text broker to serve") { cluster.log("text.log").contains(" info baton.broker: serving clients on ") }
        kill(text.processIdentifier, SIGTERM)
        text.waitUntilExit()
        XCTAssertFalse(cluster.log("text.log").contains("{"), cluster.log("text.log"))
    }

    func testAnUnknownFormatIsAUsageError() throws {
        for command in [["broker", "--db", "x.db"], ["worker"]] {
            let (code, out) = try cluster.batonExactly(command + ["--log-format", "xml"], log: "\(command[0])-xml.log")
            XCTAssertEqual(code, 64, out)
            XCTAssertTrue(out.contains(#"--log-format: "xml" is not a log format (text, json)"#), out)
        }
    }

    /// Every line of `log` parsed as one JSON object with the fields every line has:
    /// `time` in the wire's timestamp form, a swift-log `level`, `logger`, a `message`.
    private func jsonLines(_ log: String, logger: String) throws -> [[String: JSONValue]] {
        let text = cluster.log(log)
        XCTAssertTrue(text.hasSuffix("\n"), "whole lines only")
        let levels: Set<String> = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        return try text.split(separator: "\n").map { line in
            let object = try XCTUnwrap(try JSONParser.parse(String(line)).objectValue, "\(log): \(line)")
            let time = try XCTUnwrap(object["time"]?.stringValue, "\(log): \(line)")
            XCTAssertNotNil(Timestamp.parse(time), "\(log): \(line)")
            XCTAssertEqual(time.count, 24, "RFC 3339 UTC with milliseconds: \(line)")
            XCTAssertTrue(levels.contains(object["level"]?.stringValue ?? ""), "\(log): \(line)")
            XCTAssertEqual(object["logger"], .string(logger), "\(log): \(line)")
            XCTAssertFalse(object["message"]?.stringValue?.isEmpty ?? true, "\(log): \(line)")
            XCTAssertTrue(object.values.allSatisfy { $0.stringValue != nil }, "flat, string values: \(line)")
            return object
        }
    }
}
