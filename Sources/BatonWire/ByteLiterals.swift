extension Array where Element == UInt8 {
    /// Appends a literal's UTF-8 bytes. The byte writers append dozens of literals per
    /// reply, JOB body and stored spec; through `String.UTF8View` each append took about
    /// 110 instructions in the profile, from the literal's static buffer about 60.
    mutating func append(literal s: StaticString) {
        s.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// `,"key":` for a key that needs no escaping: a member's prefix, byte by byte
    /// around the key (cheaper than two literal appends for two bytes each).
    mutating func appendMemberPrefix(_ key: StaticString) {
        append(UInt8(ascii: ","))
        append(UInt8(ascii: "\""))
        append(literal: key)
        append(UInt8(ascii: "\""))
        append(UInt8(ascii: ":"))
    }
}
