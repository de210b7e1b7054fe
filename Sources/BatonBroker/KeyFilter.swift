/// Which idempotency keys are certainly not stored: a scalable Bloom filter of every key
/// the store holds, so that a SUBMIT with a fresh key (the common case: the SDKs make one
/// up for every workflow) is decided at once, without a store read or a parked peer.
///
/// `mayContain` never answers false for a key that was inserted; it answers true for a
/// few keys that were not (about 1% per layer), and those take the slow, exact path: a
/// deferred read of the store. Keys are only ever added (the store never forgets one
/// while the broker runs), so the filter never needs a rebuild while it runs: when a
/// layer is full a new one twice its size is added (Almeida et al., "Scalable Bloom
/// Filters", 2007). About 1.2 bytes per key; built at start from the stored keys.
///
/// Hand-written: none of the packages on this machine's list has a Bloom filter, and
/// this one is 60 lines.
public struct KeyFilter: Sendable {
    private struct Layer {
        var words: [UInt64]
        var capacity: Int
        var count = 0

        init(capacity: Int) {
            self.capacity = capacity
            words = Array(repeating: 0, count: max(1, capacity * KeyFilter.bitsPerKey / 64))
        }

        var bitCount: UInt64 { UInt64(words.count * 64) }

        // The probes of a key: double hashing, `h1 + i * h2` (Kirsch and Mitzenmacher).
        // Written as plain loops on purpose: a lazy sequence of positions captured the
        // layer, so `words` had two owners and every insert copied the whole array.

        func contains(_ h1: UInt64, _ h2: UInt64) -> Bool {
            let m = bitCount
            for i in 0..<UInt64(KeyFilter.probes) {
                let p = Int((h1 &+ i &* h2) % m)
                if words[p >> 6] & (1 << UInt64(p & 63)) == 0 { return false }
            }
            return true
        }

        mutating func insert(_ h1: UInt64, _ h2: UInt64) {
            let m = bitCount
            for i in 0..<UInt64(KeyFilter.probes) {
                let p = Int((h1 &+ i &* h2) % m)
                words[p >> 6] |= 1 << UInt64(p & 63)
            }
            count += 1
        }
    }

    /// 10 bits and 7 probes per key: about 1% false positives per layer.
    static let bitsPerKey = 10
    static let probes = 7

    private var layers: [Layer]

    /// A filter sized for about `expected` keys (it grows past that).
    public init(expected: Int = 0) {
        layers = [Layer(capacity: max(1 << 16, expected * 2))]
    }

    public mutating func insert(_ key: String) {
        var key = key
        key.withUTF8 { insert(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// `insert` of a key's UTF-8 bytes (the store hands them over without making a
    /// String of each: a start over 1,000,000 keys spent most of its filter time there).
    public mutating func insert(utf8 key: UnsafeRawBufferPointer) {
        let (h1, h2) = Self.hashes(key)
        if layers[layers.count - 1].count >= layers[layers.count - 1].capacity {
            layers.append(Layer(capacity: layers[layers.count - 1].capacity * 2))
        }
        layers[layers.count - 1].insert(h1, h2)
    }

    /// False: `key` was never inserted. True: it may have been.
    public func mayContain(_ key: String) -> Bool {
        var key = key
        let (h1, h2) = key.withUTF8 { Self.hashes(UnsafeRawBufferPointer($0)) }
        return layers.contains { $0.contains(h1, h2) }
    }

    /// Two 64-bit hashes of the key's bytes: Swift's SipHash (seeded per process, which is
    /// fine: the filter lives and dies with the process) and a SplitMix64 mix of it, odd
    /// so that the probes of one key never repeat. Bytes, not the String: the store
    /// compares keys byte for byte, and bytes hash without Unicode normalisation.
    private static func hashes(_ key: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var hasher = Hasher()
        hasher.combine(bytes: key)
        let h1 = UInt64(bitPattern: Int64(hasher.finalize()))
        var z = h1 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (h1, (z ^ (z >> 31)) | 1)
    }
}
