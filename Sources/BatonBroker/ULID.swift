/// Workflow ids: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32).
/// Time-ordered, so ids sort roughly by submission; random enough that two brokers or
/// two restarts never collide in practice.
enum ULID {
    /// Crockford base32, as ASCII bytes (built as bytes: one SUBMIT makes one id, and a
    /// `[Character]` path cost more than the rest of the id's work).
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func make<R: RandomNumberGenerator>(ms: Int64, using rng: inout R) -> String {
        let t = UInt64(max(ms, 0)) & 0xFFFF_FFFF_FFFF
        let hi = rng.next()
        let lo = rng.next()
        return String(unsafeUninitializedCapacity: 26) { out in
            // 10 chars of time, most significant first.
            for i in 0..<10 { out[i] = alphabet[Int((t >> UInt64(45 - 5 * i)) & 31)] }
            // 80 random bits: 16 chars of 5 bits from hi (64 bits = 12 chars + 4 bits) and lo.
            for i in 0..<12 { out[10 + i] = alphabet[Int((hi >> UInt64(59 - 5 * i)) & 31)] }
            out[22] = alphabet[Int(((hi & 0xF) << 1) | (lo >> 63))]
            for i in 0..<3 { out[23 + i] = alphabet[Int((lo >> UInt64(58 - 5 * i)) & 31)] }
            return 26
        }
    }
}
