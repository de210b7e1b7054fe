import BatonClient
import BatonWire
import Foundation
import XCTest

/// A real disk-full: the database lives on a small tmpfs that the test fills up. The
/// broker must answer ERROR unavailable, give no ID for what it did not store, keep
/// serving, and work again once space is back.
final class StorageFaultTests: XCTestCase {
    var cluster: Cluster!
    var mountPoint: URL?

    override func setUpWithError() throws {
        cluster = try Cluster()
    }

    override func tearDown() {
        cluster.stopAll()
        if let m = mountPoint {
            _ = run("/bin/umount", [m.path])
            try? FileManager.default.removeItem(at: m)
        }
    }

    @discardableResult
    private func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    private func bigWorkflow(_ name: String) -> WorkflowSpec {
        WorkflowSpec(name: name, blocks: [BlockSpec(concurrency: 10, jobs: (0..<4000).map { i in
            JobSpec(type: "echo", args: ["i": .int(Int64(i)), "pad": .string(String(repeating: "x", count: 40))])
        })])
    }

    func testDiskFullAnswersUnavailableKeepsServingAndRecovers() throws {
        // Mounting needs root (CI runs as root); elsewhere this test cannot make a real
        // full disk and says so.
        let m = cluster.dir.appendingPathComponent("small-disk")
        try FileManager.default.createDirectory(at: m, withIntermediateDirectories: true)
        guard getuid() == 0, run("/bin/mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", m.path]) == 0 else {
            throw XCTSkip("needs root to mount a 6 MiB tmpfs for a real disk-full")
        }
        mountPoint = m
        let db = m.appendingPathComponent("baton.db").path
        try cluster.startBroker(db: db)
        let client = try cluster.client()
        let before = try client.submit(WorkflowSpec(name: "small", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo")])]))

        // Fill the disk to the last byte.
        let filler = m.appendingPathComponent("filler")
        FileManager.default.createFile(atPath: filler.path, contents: nil)
        let handle = try FileHandle(forWritingTo: filler)
        let chunk = Data(count: 64 * 1024)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        let small = Data(count: 512)
        while (try? handle.write(contentsOf: small)) != nil {}
        try? handle.close()

        XCTAssertThrowsError(try client.submit(bigWorkflow("too-big-for-the-disk"), idempotencyKey: "full-1")) { error in
            XCTAssertEqual((error as? ClientError)?.code, .unavailable, "\(error)")
        }
        // Still serving: reads work, PING works, and no ID was given for what was not stored.
        XCTAssertNoThrow(try client.ping())
        XCTAssertEqual(try client.status(before.id).state, .submitted)
        XCTAssertEqual(try client.list().workflows.map(\.name), ["small"])
        XCTAssertTrue(cluster.broker?.isRunning ?? false)

        // Space comes back: the same request now succeeds.
        try FileManager.default.removeItem(at: filler)
        let after = try client.submit(bigWorkflow("too-big-for-the-disk"), idempotencyKey: "full-1")
        XCTAssertFalse(after.duplicate)
        XCTAssertEqual(try client.status(after.id).jobCount, 4000)
        XCTAssertEqual(try client.exec(before.id).state, .running)
        XCTAssertTrue(cluster.log("broker.log").contains("commit failed"), cluster.log("broker.log"))
    }
}
