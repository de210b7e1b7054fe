import XCTest

@testable import BatonBroker

final class ULIDTests: XCTestCase {
    /// Hands out fixed words, so the random part of an id is known.
    struct FixedWords: RandomNumberGenerator {
        var words: [UInt64]
        mutating func next() -> UInt64 { words.removeFirst() }
    }

    func testTimePartMatchesTheULIDSpecExample() {
        // The ULID spec's example: 1469918176385 ms encodes as "01ARYZ6S41".
        var rng = FixedWords(words: [0, 0])
        let id = ULID.make(ms: 1_469_918_176_385, using: &rng)
        XCTAssertEqual(id, "01ARYZ6S41" + String(repeating: "0", count: 16))
    }

    func testRandomPartUsesAllEightyBitsInOrder() {
        var rng = FixedWords(words: [UInt64.max, UInt64.max])
        XCTAssertEqual(ULID.make(ms: 0, using: &rng), String(repeating: "0", count: 10) + String(repeating: "Z", count: 16))
        // hi's top 5 bits are the first random char; lo's top bit joins hi's low 4 bits.
        var one = FixedWords(words: [1 << 59, 1 << 63])
        XCTAssertEqual(ULID.make(ms: 0, using: &one), "0000000000" + "1" + String(repeating: "0", count: 11) + "1" + "000")
    }

    func testIdsAreCrockfordBase32AndSortByTime() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        let ids = (0..<100).map { ULID.make(ms: 1_800_000_000_000 + Int64($0), using: &rng) }
        for id in ids {
            XCTAssertEqual(id.count, 26)
            XCTAssertTrue(id.allSatisfy(alphabet.contains), id)
        }
        XCTAssertEqual(ids, ids.sorted())
        XCTAssertEqual(Set(ids).count, ids.count)
    }
}
