import BatonClient
import BatonStore
import BatonWire
import Foundation
import XCTest

/// `baton backup` while the broker serves, and a restore: a broker started on the copy
/// resumes every unfinished workflow in it, as after a crash, and no job that the copy
/// holds as SUCCEEDED runs again. `baton db check` reads the copy offline and refuses a
/// file a broker holds.
final class BackupTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }
    override func tearDown() { cluster.stopAll() }

    /// One line per run of each job: the `append` type's own log.
    private struct Run: Decodable {
        let job_id: String
        let at_ms: Int64
    }

    func testABackupDuringLoadRestoresAndNothingSucceededRunsTwice() throws {
        let files = cluster.dir.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        try cluster.startBroker()
        try cluster.startWorker(types: "append", capacity: 4, name: "w1", fileRoot: files.path)
        let client = try BatonClient(endpoint: cluster.clientEndpoint)
        defer { client.close() }
        let step = #"{"jobs": [{"type": "append", "args": {"path": "runs.log", "ms": 60}}]}"#
        let spec = try WorkflowSpec.parse(JSONParser.parse(#"{"name": "restore-drill", "blocks": [\#(Array(repeating: step, count: 6).joined(separator: ","))]}"#))
        var ids: [String] = []
        for i in 0..<16 {
            let id = try client.submit(spec, idempotencyKey: "drill-\(i)").id
            _ = try client.exec(id)
            ids.append(id)
        }
        try cluster.waitFor("some jobs to succeed") { (try? String(contentsOf: files.appendingPathComponent("runs.log"), encoding: .utf8))?.count ?? 0 > 2000 }

        let copy = cluster.dir.appendingPathComponent("copy.db").path
        let (code, out) = try cluster.baton(["backup", copy, "--json"], log: "backup.log")
        XCTAssertEqual(code, 0, out)
        let reply = try JSONParser.parse(out.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(reply["workflows"], 16)
        XCTAssertEqual(reply["path"], .string(copy))
        let (again, refused) = try cluster.baton(["backup", copy], log: "backup-again.log")
        XCTAssertEqual(again, 2, "a backup never overwrites: \(refused)")
        XCTAssertTrue(refused.contains("exists"), refused)
        let (held, heldOut) = try cluster.batonExactly(["db", "check", cluster.dbPath], log: "check-live.log")
        XCTAssertEqual(held, 1, heldOut)
        XCTAssertTrue(heldOut.contains("held by a running broker"), heldOut)

        // A crash, then a start on the copy with the same worker (it reconnects).
        cluster.kill9(try XCTUnwrap(cluster.broker))
        let (checked, report) = try cluster.batonExactly(["db", "check", copy], log: "check-copy.log")
        XCTAssertEqual(checked, 0, report)
        XCTAssertTrue(report.contains("integrity: ok"), report)
        let succeededInCopy = try Set(Store(path: copy, access: .inspector).loadActive().flatMap { w in
            w.jobs.enumerated().flatMap { b, jobs in
                jobs.enumerated().filter { $0.element.state == .succeeded }.map { WorkflowRecord.jobId(w.id, block: b, job: $0.offset) }
            }
        })
        XCTAssertFalse(succeededInCopy.isEmpty, "the backup was taken mid-run")
        let restoredAt = Int64(Date().timeIntervalSince1970 * 1000)
        try cluster.startBroker(db: copy)
        try cluster.waitFor("every workflow to finish on the restored broker", seconds: 60) {
            try ids.allSatisfy { try client.status($0).state == .succeeded }
        }
        let runs = try String(contentsOf: files.appendingPathComponent("runs.log"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(Run.self, from: Data($0.utf8)) }
        let rerun = runs.filter { $0.at_ms >= restoredAt && succeededInCopy.contains($0.job_id) }
        XCTAssertEqual(rerun.map(\.job_id), [], "jobs SUCCEEDED in the backup ran again after the restore")
        XCTAssertEqual(Set(runs.map(\.job_id)).count, 16 * 6, "every job ran")
    }

    func testDbCheckSaysWhatIsWrong() throws {
        let garbage = try cluster.writeFile("garbage.db", String(repeating: "not sqlite ", count: 500))
        let (code, out) = try cluster.batonExactly(["db", "check", garbage], log: "garbage.log")
        XCTAssertEqual(code, 64, out)
        XCTAssertTrue(out.contains("garbage.db"), out)
        let (missing, missingOut) = try cluster.batonExactly(["db", "check", cluster.dir.appendingPathComponent("none.db").path], log: "none.log")
        XCTAssertEqual(missing, 64, missingOut)
        XCTAssertTrue(missingOut.contains("no such file"), missingOut)
    }
}
