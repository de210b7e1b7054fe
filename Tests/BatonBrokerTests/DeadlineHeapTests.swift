import XCTest

@testable import BatonBroker

final class DeadlineHeapTests: XCTestCase {
    func testPopsInDeadlineThenInsertionOrder() {
        var heap = DeadlineHeap<String>()
        heap.insert("c", at: 30)
        heap.insert("a", at: 10)
        heap.insert("b1", at: 20)
        heap.insert("b2", at: 20)
        XCTAssertNil(heap.popDue(9))
        XCTAssertEqual(heap.earliest, 10)
        var out: [String] = []
        while let e = heap.popDue(100) { out.append(e) }
        XCTAssertEqual(out, ["a", "b1", "b2", "c"])
        XCTAssertTrue(heap.isEmpty)
    }

    func testManyRandomDeadlinesComeOutSorted() {
        var heap = DeadlineHeap<Int64>()
        var rng = SystemRandomNumberGenerator()
        let values = (0..<1000).map { _ in Int64.random(in: 0..<10_000, using: &rng) }
        for v in values { heap.insert(v, at: v) }
        var out: [Int64] = []
        while let v = heap.popDue(Int64.max) { out.append(v) }
        XCTAssertEqual(out, values.sorted())
    }

    func testRemoveAllWhereKeepsTheRestInOrder() {
        var heap = DeadlineHeap<Int64>()
        var rng = SystemRandomNumberGenerator()
        let values = (0..<1000).map { _ in Int64.random(in: 0..<10_000, using: &rng) }
        for v in values { heap.insert(v, at: v) }
        heap.insert(-1, at: 5_000)
        heap.insert(-2, at: 5_000)
        heap.removeAll { $0 % 3 == 0 }
        var out: [Int64] = []
        while let v = heap.popDue(Int64.max) { out.append(v) }
        var expected = values.filter { $0 % 3 != 0 } + [-1, -2]
        // Ties keep insertion order: -1 and -2 come after every value 5000 inserted before them.
        expected.sort { a, b in
            let da = a < 0 ? 5_000 : a, db = b < 0 ? 5_000 : b
            if da != db { return da < db }
            return (a < 0 ? 1 : 0, a < 0 ? -a : 0) < (b < 0 ? 1 : 0, b < 0 ? -b : 0)
        }
        XCTAssertEqual(out, expected)
    }
}
