import Foundation
import XCTest

/// The `baton` executable runs on mimalloc (`ProcessAllocator`, `CMimalloc`): the broker
/// says so in its first lines, from a block `malloc` returned that lies in mimalloc's heap.
/// If a change of the link put libc's malloc first, the broker would run ~20k instructions
/// per one-job workflow slower without any error; this test fails instead.
final class ProcessAllocatorTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }

    override func tearDown() { cluster.stopAll() }

    func testTheBrokerServesMallocFromMimalloc() throws {
        let broker = try cluster.startBroker()
        // Read to the end: /proc files say they are empty, and a read by size stops early.
        let file = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/\(broker.processIdentifier)/maps"))
        let maps = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        try file.close()
        XCTAssertTrue(maps.contains("libmimalloc.so"), "libmimalloc is mapped into the broker")
        kill(broker.processIdentifier, SIGTERM)
        broker.waitUntilExit()
        let log = cluster.log("broker.log")
        let line = try XCTUnwrap(log.split(separator: "\n").first { $0.contains("allocator: ") }, log)
        XCTAssertNotNil(line.range(of: #"allocator: mimalloc \d+\.\d+\.\d+$"#, options: .regularExpression), String(line))
    }
}
