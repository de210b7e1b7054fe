/// A workflow id as a hash key that hashes 8 bytes and compares bytes, not characters.
///
/// Why: the broker looks a workflow up by its id about 85 times per one-job workflow
/// (its record, its block's progress, its jobs' keys, the turn's dirty sets, the store's
/// row keys), and a `String` key hashes all 26 bytes through SipHash and compares by
/// Unicode canonical equivalence: about 490 instructions a lookup in `scripts/profile`,
/// some 40,000 per workflow. An id the broker makes is a ULID (spec §3.3) whose last 16
/// characters are random, so its last 8 bytes spread keys as well as the whole id.
///
/// Invariants: equal keys have the same bytes, hence the same tail and the same hash.
/// Equality is byte equality, as spec §3.3 and SQLite compare ids: an id that differs in
/// bytes names another workflow (or none), even where `String ==` would call the two
/// canonically equivalent (U+212A KELVIN SIGN and "K"). Any string is a valid key; one
/// shorter than 8 bytes hashes all its bytes. Keys are only ever inserted with ids the
/// broker made or restored, so a client choosing ids cannot pile keys into one bucket,
/// and `Hasher` is seeded per process besides.
public struct WorkflowIdKey: Hashable, Sendable, CustomStringConvertible {
    public let id: String
    /// The id's last 8 UTF-8 bytes (all of them when shorter), as one integer.
    @usableFromInline let tail: UInt64

    @inlinable
    public init(_ id: String) {
        self.id = id
        self.tail = Self.tail(of: id)
    }

    public var description: String { id }

    @inlinable
    public static func == (a: Self, b: Self) -> Bool {
        a.tail == b.tail && sameBytes(a.id, b.id)
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(tail)
    }

    /// What `Dictionary` and `Set` hash a key with (a `Hashable` requirement whose
    /// default runs `hash(into:)` through a `Hasher`): the tail mixed with the table's
    /// seed, without SipHash. SipHash's seeding, one `combine` and its finalization were
    /// ~160 instructions per lookup in `scripts/profile`, about 60 lookups per one-job
    /// workflow; this is a dozen. SipHash is there to keep chosen keys from colliding;
    /// these keys are ids the broker made (random tails, see above), and the table's seed,
    /// random per process, is mixed in all the same. `hash(into:)` stays for any other
    /// hashing (a key inside another key), where only consistency with `==` matters.
    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        Self.mix(tail ^ UInt64(UInt(bitPattern: seed)))
    }

    /// SplitMix64's finalizer: every input bit moves about half the output bits, so the
    /// low bits a table indexes by depend on all 64 (the tail's bytes are base32 letters,
    /// 5 bits of 8 random).
    @inlinable @inline(__always)
    public static func mix(_ v: UInt64) -> Int {
        var x = v
        x = (x ^ (x &>> 30)) &* 0xbf58_476d_1ce4_e5b9
        x = (x ^ (x &>> 27)) &* 0x94d0_49bb_1331_11eb
        return Int(truncatingIfNeeded: x ^ (x &>> 31))
    }

    // Through `utf8.withContiguousStorageIfAvailable`, not `withUTF8` on a copy: the
    // copy's retain and release doubled the cost of a comparison in the profile.
    @inlinable
    public static func tail(of id: String) -> UInt64 {
        if let t = id.utf8.withContiguousStorageIfAvailable({ tail(of: $0) }) { return t }
        var t: UInt64 = 0  // not contiguous: never for a native String
        for b in id.utf8.suffix(8) { t = t &<< 8 | UInt64(b) }
        return t
    }

    @inlinable @inline(__always)
    static func tail(of bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        if bytes.count >= 8 {
            return UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self)
        }
        var t: UInt64 = 0
        for b in bytes { t = t &<< 8 | UInt64(b) }
        return t
    }

    /// Byte equality of two strings, 8 bytes at a time.
    @inlinable
    public static func sameBytes(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in sameBytes(x, y) }
        }
        if let fast, let same = fast { return same }
        return a.utf8.elementsEqual(b.utf8)
    }

    @inlinable @inline(__always)
    static func sameBytes(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        if x.baseAddress == y.baseAddress { return true }  // one String's storage, twice
        let rx = UnsafeRawBufferPointer(x), ry = UnsafeRawBufferPointer(y)
        var i = 0
        while i + 8 <= x.count {
            if rx.loadUnaligned(fromByteOffset: i, as: UInt64.self) != ry.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        while i < x.count {
            if x[i] != y[i] { return false }
            i += 1
        }
        return true
    }
}
