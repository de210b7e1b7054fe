import Dispatch
import XCTest

@testable import BatonBroker

final class QueuedRepliesTests: XCTestCase {
    func testAConnectionIsOverItsCapUntilEnoughIsReleased() {
        let q = QueuedReplies(capPerPeer: 1000)
        let a: PeerId = [1], b: PeerId = [2]
        q.add(a, 600)
        XCTAssertFalse(q.isOverCap(a))
        q.add(a, 400)
        XCTAssertTrue(q.isOverCap(a), "at the cap counts as over: the next reply would pass it")
        XCTAssertFalse(q.isOverCap(b), "per connection")
        q.add(b, 10)
        XCTAssertEqual(q.bytes(of: b), 10)
        q.release(a, 600)
        XCTAssertFalse(q.isOverCap(a))
        q.release(a, 400)
        q.release(b, 10)
        XCTAssertEqual(q.bytes(of: b), 0)
        XCTAssertEqual(q.bytes(of: a), 0)
    }

    func testACountNeverGoesBelowZero() {
        let q = QueuedReplies(capPerPeer: 1000)
        q.add([1], 30)
        q.release([1], 50)
        XCTAssertEqual(q.bytes(of: [1]), 0)
        q.add([1], 50)
        XCTAssertEqual(q.bytes(of: [1]), 50, "no debt carried over")
    }

    /// A reply is taken off through the counter `add` returned (libzmq's thread does
    /// that), and connections with nothing queued leave the table once it has grown:
    /// the table does not keep every client that ever connected.
    func testReleasesGoThroughTheCounterAndIdleConnectionsAreSweptOut() {
        let q = QueuedReplies(capPerPeer: 1000)
        let busy: PeerId = [0xff, 0xff]
        let counter = q.add(busy, 700)
        q.add(busy, 300)
        XCTAssertTrue(q.isOverCap(busy))
        for i in 0..<3000 {
            let peer: PeerId = [UInt8(i >> 8), UInt8(i & 0xff)]
            q.add(peer, 10).release(10)
        }
        XCTAssertLessThan(q.tableCount, 1100, "idle connections were swept out")
        XCTAssertEqual(q.bytes(of: busy), 1000, "a connection with replies queued keeps its count")
        counter.release(700)
        XCTAssertFalse(q.isOverCap(busy))
        XCTAssertEqual(q.bytes(of: busy), 300)
    }

    /// Releases from many threads at once (libzmq has several I/O threads) lose none.
    func testConcurrentReleasesAllCount() {
        let q = QueuedReplies(capPerPeer: 1 << 40)
        let counter = q.add([1], 8 * 10_000)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.release(1) }
        }
        XCTAssertEqual(q.bytes(of: [1]), 0)
    }

    func testCostCountsEveryFrameAndItsOverhead() {
        XCTAssertEqual(QueuedReplies.cost(of: [[1, 2], [], [3]]), 3 + 3 * QueuedReplies.frameOverhead)
    }
}
