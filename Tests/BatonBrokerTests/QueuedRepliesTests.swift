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

    func testCostCountsEveryFrameAndItsOverhead() {
        XCTAssertEqual(QueuedReplies.cost(of: [[1, 2], [], [3]]), 3 + 3 * QueuedReplies.frameOverhead)
    }
}
