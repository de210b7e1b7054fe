import XCTest

@testable import BatonBroker

/// A peer id is a table key: equal exactly when the routing ids' bytes are, hashed
/// alike when equal, for the 5-byte ids libzmq makes, the short and empty ones, and the
/// longer ones a peer may choose.
final class PeerIdTests: XCTestCase {
    func testEqualExactlyWhenTheBytesAre() {
        let ids: [[UInt8]] = [
            [], [0], [0, 0], [1], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0x80, 0, 0, 1],
            [1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 0], [1, 2, 3, 4, 5, 6, 7, 8],
            [1, 2, 3, 4, 5, 6, 7, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8], Array(repeating: 0xFF, count: 7),
            Array(repeating: 0xFF, count: 8), Array(repeating: 0xFF, count: 255), Array("worker-1".utf8),
        ]
        for a in ids {
            for b in ids {
                XCTAssertEqual(PeerId(a) == PeerId(b), a == b, "\(a) vs \(b)")
            }
            XCTAssertEqual(PeerId(a).bytes, a)
            XCTAssertEqual(PeerId(a)._rawHashValue(seed: 42), PeerId(Array(a))._rawHashValue(seed: 42))
            XCTAssertEqual(PeerId(a).hashValue, PeerId(Array(a)).hashValue)
        }
    }

    /// Ids that differ only past their seventh byte or in their length are other keys.
    func testLongAndShortIdsDoNotShareKeys() {
        var table: [PeerId: Int] = [:]
        let ids: [[UInt8]] = (0..<300).map { i in
            i < 100 ? [0, 0, 0, UInt8(i / 256), UInt8(i % 256)]
                : i < 200 ? Array(repeating: UInt8(i - 100), count: (i % 7) + 1)
                : Array("a-long-routing-id-".utf8) + [UInt8(i - 200)]
        }
        var distinct: Set<[UInt8]> = []
        for (n, id) in ids.enumerated() where distinct.insert(id).inserted { table[PeerId(id)] = n }
        XCTAssertEqual(table.count, distinct.count)
        for (n, id) in ids.enumerated() where table[PeerId(id)] == n {
            distinct.remove(id)
        }
        XCTAssertTrue(distinct.isEmpty, "every id finds its own entry: \(distinct)")
        XCTAssertNil(table[PeerId([0, 0, 0, 0, 0, 0])], "a sixth zero byte is another id")
    }

    /// The 5-byte ids libzmq makes (0x00, then a 32-bit counter) spread over a table's
    /// buckets: consecutive counters do not pile into a few of them.
    func testLibzmqIdsSpreadOverBuckets() {
        let buckets = 1024
        var used = Set<Int>()
        for i in 0..<UInt32(buckets) {
            let id: [UInt8] = [0, UInt8(i >> 24), UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)]
            used.insert(PeerId(id)._rawHashValue(seed: 7) & (buckets - 1))
        }
        // Random placement fills ~63% of the buckets (1 - 1/e); a hash that lost the
        // counter's bits (the word unmixed, indexed by its low bits: the length byte is
        // the top one) would fill very few.
        XCTAssertGreaterThan(used.count, buckets / 2)
    }
}
