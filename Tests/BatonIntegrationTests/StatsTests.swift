import BatonClient
import BatonWire
import Foundation
import XCTest

/// STATS through the real broker and the CLI (spec §4.3.10): `baton stats --json` and
/// `baton workers --json` report what the test did, with the server's figures (turns,
/// commits, memory, database) filled in; the people's output has its lines.
final class StatsTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
    }

    override func tearDown() { cluster.stopAll() }

    private func stats(log: String = "stats.log") throws -> [String: JSONValue] {
        let (code, out) = try cluster.baton(["stats", "--json"], log: log)
        XCTAssertEqual(code, 0, out)
        return try XCTUnwrap(JSONParser.parse(out.trimmingCharacters(in: .whitespacesAndNewlines)).objectValue, out)
    }

    func testStatsCountWhatRanAndTheServerFillsItsHalf() throws {
        try cluster.startWorker(types: "echo,fail", capacity: 2, name: "w-stats")
        let ok = try cluster.writeFile("ok.json", #"{"name": "ok", "blocks": [{"jobs": [{"type": "echo"}, {"type": "echo"}]}]}"#)
        let bad = try cluster.writeFile("bad.json", #"{"name": "bad", "blocks": [{"jobs": [{"type": "fail", "retry": {"max_attempts": 1}}]}]}"#)
        for i in 0..<3 { XCTAssertEqual(try cluster.baton(["run", ok, "--journal", "j\(i).jsonl"], log: "run\(i).log").0, 0) }
        XCTAssertEqual(try cluster.baton(["run", bad, "--journal", "jb.jsonl"], log: "runb.log").0, 1)
        XCTAssertEqual(try cluster.baton(["status", "01NOSUCHWORKFLOW"], log: "missing.log").0, 2)

        let s = try stats()
        XCTAssertEqual(s["finished"], ["SUCCEEDED": 3, "FAILED": 1, "CANCELLED": 0, "EXPIRED": 0])
        let c = try XCTUnwrap(s["counters"]?.objectValue)
        XCTAssertEqual(c["submitted"], 4)
        XCTAssertEqual(c["executed"], 4)
        XCTAssertEqual(c["dispatched"], 7)
        XCTAssertEqual(c["succeeded"], 6)
        XCTAssertEqual(c["failed"], 1)
        XCTAssertEqual(c["rejected"]?["not_found"], 1)
        XCTAssertGreaterThan(c["requests"]?.intValue ?? 0, 8)
        let commits = try XCTUnwrap(s["commits"]?.objectValue)
        XCTAssertGreaterThan(commits["count"]?.intValue ?? 0, 4, "every handshake step and result is committed")
        XCTAssertEqual(commits["failed"], 0)
        XCTAssertEqual(commits["seconds"]?["count"], commits["count"], "one observation per commit")
        XCTAssertGreaterThan(s["turns"]?["count"]?.intValue ?? 0, 4)
        XCTAssertGreaterThan(s["process"]?["rss_bytes"]?.intValue ?? 0, 1 << 20)
        XCTAssertGreaterThan(s["process"]?["db_bytes"]?.intValue ?? 0, 4096, "the database file and its WAL")
        XCTAssertNotNil(s["started_at"]?.stringValue)

        let (code, workers) = try cluster.baton(["workers", "--json"], log: "workers.log")
        XCTAssertEqual(code, 0)
        let rows = try XCTUnwrap(JSONParser.parse(workers.trimmingCharacters(in: .whitespacesAndNewlines))["workers"]?.arrayValue)
        XCTAssertEqual(rows.map { $0["worker"] }, ["w-stats"])
        XCTAssertEqual(rows.first?["capacity"], 2)
        XCTAssertEqual(rows.first?["draining"], false)
    }

    func testPeopleGetLinesAndATable() throws {
        try cluster.startWorker(types: "echo", capacity: 3, name: "w-people")
        // The worker process is started, not yet known: wait for its READY to arrive.
        let deadline = Date().addingTimeInterval(30)
        var polls = 0
        while try stats(log: "poll\(polls).log")["workers"]?.arrayValue?.count != 1 {
            polls += 1
            guard Date() < deadline else { return XCTFail("the worker did not connect within 30 s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let (code, out) = try cluster.baton(["stats"], log: "stats.log")
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("workflows: 0 running, 0 submitted, 0 stopped"), out)
        XCTAssertTrue(out.contains("workers: 1 connected, 0 draining"), out)
        XCTAssertTrue(out.contains("process: RSS "), out)
        let (wcode, table) = try cluster.baton(["workers"], log: "workers.log")
        XCTAssertEqual(wcode, 0)
        let lines = table.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasPrefix("WORKER") ?? false, table)
        XCTAssertTrue(lines.dropFirst().first?.hasPrefix("w-people              ready           0         3  ") ?? false, table)
    }
}
