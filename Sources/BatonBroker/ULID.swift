/// Workflow ids: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32).
/// Time-ordered, so ids sort roughly by submission; random enough that two brokers or
/// two restarts never collide in practice.
enum ULID {
    private static let alphabet: [Character] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    static func make<R: RandomNumberGenerator>(ms: Int64, using rng: inout R) -> String {
        var chars: [Character] = []
        chars.reserveCapacity(26)
        let t = UInt64(max(ms, 0)) & 0xFFFF_FFFF_FFFF
        for i in stride(from: 45, through: 0, by: -5) {
            chars.append(alphabet[Int((t >> UInt64(i)) & 31)])
        }
        let hi = UInt64.random(in: 0...UInt64.max, using: &rng)
        let lo = UInt64.random(in: 0...UInt64.max, using: &rng)
        // 80 random bits: 16 chars of 5 bits from hi (64 bits = 12 chars + 4 bits) and lo.
        for i in 0..<12 { chars.append(alphabet[Int((hi >> UInt64(59 - 5 * i)) & 31)]) }
        chars.append(alphabet[Int(((hi & 0xF) << 1) | (lo >> 63))])
        for i in 0..<3 { chars.append(alphabet[Int((lo >> UInt64(58 - 5 * i)) & 31)]) }
        return String(chars)
    }
}
