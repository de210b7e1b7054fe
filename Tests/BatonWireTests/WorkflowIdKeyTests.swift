import BatonWire
import XCTest

final class WorkflowIdKeyTests: XCTestCase {
    /// Ids of every length class the key handles differently: empty, shorter than its
    /// 8-byte tail, exactly 8, between two words, a ULID, the longest a request allows;
    /// and ids that share their last 8 bytes (equal tails, so equality must read the rest).
    private static let ids: [String] = {
        var ids = ["", "a", "ab", "1234567", "12345678", "123456789", "0123456789ABCDEF", "0123456789ABCDEFG",
                   "01JDQ8ZK4M3V7W2XN9RTBCEFGH", "01JDQ8ZK4M3V7W2XN9RTBCEFGJ", "11JDQ8ZK4M3V7W2XN9RTBCEFGH",
                   "01JDQ8ZK4M3V7W2XN9RTBCEFG", "x01JDQ8ZK4M3V7W2XN9RTBCEFGH", String(repeating: "z", count: 128)]
        for i in 0..<8 {  // the same tail, one earlier byte changed at each position of a word
            var bytes = Array("01JDQ8ZK4M3V7W2XN9RTBCEFGH".utf8)
            bytes[i + 9] = UInt8(ascii: "#")
            ids.append(String(decoding: bytes, as: UTF8.self))
        }
        return ids
    }()

    func testKeysAreEqualExactlyWhenTheBytesAre() {
        for a in Self.ids {
            for b in Self.ids {
                let same = Array(a.utf8) == Array(b.utf8)
                XCTAssertEqual(WorkflowIdKey(a) == WorkflowIdKey(b), same, "\(a) vs \(b)")
                XCTAssertEqual(WorkflowIdKey.sameBytes(a, b), same, "\(a) vs \(b)")
                if same { XCTAssertEqual(WorkflowIdKey(a).hashValue, WorkflowIdKey(b).hashValue) }
            }
        }
    }

    /// Dictionaries index by a raw hash's low bits: ids as the broker makes them (one
    /// millisecond's prefix, 16 random base32 letters) must spread over a table's buckets
    /// like random numbers do (4,096 keys in 4,096 buckets fill ~2,590), for any seed; the
    /// tail itself, unmixed, would fill at most 512 (its low 12 bits are 1.5 letters).
    func testRawHashesOfBrokerIdsSpreadOverTheBuckets() {
        let letters = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
        var g = SystemRandomNumberGenerator()
        let ids = (0..<4096).map { _ in
            String(decoding: Array("01JDQ8ZK4M".utf8) + (0..<16).map { _ in letters.randomElement(using: &g)! }, as: UTF8.self)
        }
        for seed in [0, 1, Int.random(in: .min ... .max, using: &g)] {
            let buckets = Set(ids.map { WorkflowIdKey($0)._rawHashValue(seed: seed) & 4095 })
            XCTAssertGreaterThan(buckets.count, 2400, "seed \(seed)")
            for id in ids.prefix(50) {
                XCTAssertEqual(WorkflowIdKey(id)._rawHashValue(seed: seed), WorkflowIdKey(String(decoding: Array(id.utf8), as: UTF8.self))._rawHashValue(seed: seed))
            }
        }
    }

    func testRandomIdsDifferingInOneByteAreDifferentKeys() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 1...40, using: &g)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0x21...0x7E, using: &g) }
            var other = bytes
            let i = Int.random(in: 0..<n, using: &g)
            other[i] = other[i] == 0x7E ? 0x21 : other[i] + 1
            let a = String(decoding: bytes, as: UTF8.self), b = String(decoding: other, as: UTF8.self)
            XCTAssertNotEqual(WorkflowIdKey(a), WorkflowIdKey(b), "\(a) vs \(b) (byte \(i))")
            XCTAssertEqual(WorkflowIdKey(a), WorkflowIdKey(String(decoding: bytes, as: UTF8.self)))
        }
    }

    /// Spec §3.3: ids are compared byte for byte. `String ==` calls these two equal (the
    /// Kelvin sign is canonically "K"); as workflow ids they are two different ids.
    func testCanonicallyEquivalentIdsAreDifferentKeys() {
        let ascii = "01JDQ8ZK4M3V7W2XN9RTBCEFGK", kelvin = "01JDQ8ZK4M3V7W2XN9RTBCEFG\u{212A}"
        XCTAssertEqual(ascii, kelvin)
        XCTAssertNotEqual(WorkflowIdKey(ascii), WorkflowIdKey(kelvin))
        var map = WorkflowIdMap<Int>()
        map[ascii] = 1
        XCTAssertNil(map[kelvin])
    }

    /// The map against a `[String: Int]` model (ids here differ in bytes wherever they
    /// differ as Strings, so the two agree) over random inserts, in-place changes,
    /// defaults, updates and removals.
    func testMapBehavesAsADictionaryOfItsIds() {
        var g = SystemRandomNumberGenerator()
        var map = WorkflowIdMap<Int>(), model: [String: Int] = [:]
        for step in 0..<20_000 {
            let id = Self.ids.randomElement(using: &g)!
            switch Int.random(in: 0..<6, using: &g) {
            case 0: map[id] = step; model[id] = step
            case 1: map[id]? += 1; model[id]? += 1
            case 2: map[id, default: 100] += 1; model[id, default: 100] += 1
            case 3: XCTAssertEqual(map.removeValue(forKey: id), model.removeValue(forKey: id))
            case 4:
                let changed = map.update(id) { v -> Int in v *= 2; return v }
                XCTAssertEqual(changed, model[id].map { $0 * 2 })
                if model[id] != nil { model[id]! *= 2 }
            default: XCTAssertEqual(map[id], model[id])
            }
            XCTAssertEqual(map.count, model.count)
        }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: map.map { ($0.key, $0.value) }), model)
        XCTAssertEqual(Set(map.keys), Set(model.keys))
        XCTAssertEqual(map.values.sorted(), model.values.sorted())
        map.removeAll()
        XCTAssertTrue(map.isEmpty)
        let literal: WorkflowIdMap<Int> = ["a": 1, "b": 2]
        XCTAssertEqual(literal["a"], 1)
        XCTAssertEqual(literal["b"], 2)
        XCTAssertEqual(literal.count, 2)
    }

    /// `peek` reads the stored value in place and `contains` answers without reading
    /// it: both agree with the subscript, for ids here and not, and change nothing.
    func testPeekAndContainsAgreeWithTheSubscript() {
        var map = WorkflowIdMap<[Int]>()
        map["01JDQ8ZK4M3V7W2XN9RTBCEFGH"] = [1, 2, 3]
        map["x"] = []
        for id in ["01JDQ8ZK4M3V7W2XN9RTBCEFGH", "x", "11JDQ8ZK4M3V7W2XN9RTBCEFGH", ""] {
            XCTAssertEqual(map.contains(id), map[id] != nil, id)
            XCTAssertEqual(map.peek(id) { $0.count }, map[id]?.count, id)
            XCTAssertEqual(map.peek(id) { $0 }, map[id], id)
        }
        XCTAssertEqual(map.count, 2)
        XCTAssertEqual(map["01JDQ8ZK4M3V7W2XN9RTBCEFGH"], [1, 2, 3])
    }

    func testSetBehavesAsASetOfItsIds() {
        var g = SystemRandomNumberGenerator()
        var set = WorkflowIdSet(), model: Set<String> = []
        for _ in 0..<20_000 {
            let id = Self.ids.randomElement(using: &g)!
            switch Int.random(in: 0..<3, using: &g) {
            case 0: XCTAssertEqual(set.insert(id), model.insert(id).inserted)
            case 1: XCTAssertEqual(set.remove(id), model.remove(id) != nil)
            default: XCTAssertEqual(set.contains(id), model.contains(id))
            }
            XCTAssertEqual(set.count, model.count)
        }
        XCTAssertEqual(Set(set), model)
        let capacity = set.capacity
        set.removeAll(keepingCapacity: true)
        XCTAssertTrue(set.isEmpty)
        XCTAssertEqual(set.capacity, capacity)
    }
}
