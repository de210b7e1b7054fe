import XCTest

@testable import BatonBroker

final class KeyFilterTests: XCTestCase {
    func testEveryInsertedKeyIsReportedAcrossGrowth() {
        var filter = KeyFilter()
        let keys = (0..<200_000).map { "key-\($0)" }  // three layers: 65,536 then 131,072 then more
        for k in keys { filter.insert(k) }
        XCTAssertTrue(keys.allSatisfy(filter.mayContain), "a Bloom filter never forgets a key")
    }

    func testFewKeysNeverInsertedAreReported() {
        var filter = KeyFilter(expected: 50_000)
        for i in 0..<50_000 { filter.insert("in-\(i)") }
        let falsePositives = (0..<50_000).count { filter.mayContain("out-\($0)") }
        XCTAssertLessThan(falsePositives, 1500, "about 1% expected; 3% would mean broken hashing")
    }

    func testAnEmptyFilterContainsNothing() {
        XCTAssertFalse(KeyFilter().mayContain("anything"))
    }
}
