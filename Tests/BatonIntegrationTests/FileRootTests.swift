import BatonClient
import BatonWire
import Foundation
import XCTest

/// `baton worker --file-root` with real processes: the file types only with a root, their
/// paths confined to it, and a refused path failing its job while the worker serves on.
final class FileRootTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }
    override func tearDown() { cluster.stopAll() }

    /// Naming a file type without a root, or a root that is no directory, is a usage
    /// error (exit 64) that names the flag; the worker never connects.
    func testFileTypesWithoutAUsableRootAreACommandLineError() throws {
        let missing = cluster.dir.appendingPathComponent("missing").path
        let cases: [([String], String)] = [
            (["--types", "echo,file.write"], "--types: file.write needs --file-root"),
            (["--types", "append"], "--types: append needs --file-root"),
            (["--types", "append", "--file-root", missing], "--file-root \(missing): No such file or directory"),
            (["--types", "append", "--file-root", "/"], "--file-root /: the whole file system is no confinement"),
        ]
        for (n, (args, message)) in cases.enumerated() {
            let p = try cluster.start(["worker", "--broker", cluster.workerEndpoint] + args, log: "worker-\(n).log")
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 64, "\(args)")
            XCTAssertTrue(cluster.log("worker-\(n).log").contains(message), cluster.log("worker-\(n).log"))
        }
    }

    /// A job whose path climbs out of the root fails for good with the reason, nothing
    /// is written outside, and the same worker then writes a file inside the root.
    func testAnEscapingPathFailsItsJobAndTheWorkerServesOn() throws {
        let root = cluster.dir.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: false)
        try cluster.startBroker()
        try cluster.startWorker(types: "echo,file.write,append", name: "confined", fileRoot: root.path)
        let client = try cluster.client()
        defer { client.close() }
        func write(_ path: String) throws -> WorkflowStatus {
            try client.run(WorkflowSpec(name: "write", blocks: [BlockSpec(concurrency: 1, jobs: [
                JobSpec(type: "file.write", args: ["path": .string(path), "content": "hi\n"], retry: RetryPolicy(maxAttempts: 3, backoffMs: 10)),
            ])]))
        }

        let escaped = try write("../escaped.txt")
        XCTAssertEqual(escaped.state, .failed)
        XCTAssertEqual(escaped.blocks[0].jobs[0].attempt, 1, "a refused path is not retried")
        XCTAssertEqual(escaped.blocks[0].jobs[0].error, #"args.path "../escaped.txt": contains a .. component"#)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.dir.appendingPathComponent("escaped.txt").path))

        let written = try write("inside.txt")
        XCTAssertEqual(written.state, .succeeded, cluster.log("worker-confined.log"))
        XCTAssertEqual(try String(contentsOf: root.appendingPathComponent("inside.txt"), encoding: .utf8), "hi\n")
    }
}
