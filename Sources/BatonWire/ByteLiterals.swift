extension Array where Element == UInt8 {
    /// Appends a literal's UTF-8 bytes. The byte writers append dozens of literals per
    /// reply, JOB body and stored spec; through `String.UTF8View` each append took about
    /// 110 instructions in the profile, from the literal's static buffer about 60.
    mutating func append(literal s: StaticString) {
        s.withUTF8Buffer { append(contentsOf: $0) }
    }
}
