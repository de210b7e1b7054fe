/// Finding where a JSON value ends without building it: for bytes that are copied
/// through as they are (a stored event's fields into a WATCH reply), where parsing them
/// into a `JSONValue` only to write the same bytes back was most of the answer's cost.
extension JSONParser {
    /// The offset just after the JSON value starting at `start` in `raw`, or nil when no
    /// complete, valid value starts there (or it nests deeper than `maxDepth`). Checks
    /// the grammar (RFC 8259), not that strings hold valid UTF-8: the callers copy bytes
    /// that a writer of this module wrote, or fall back to the parser.
    public static func valueEnd(in raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var p = JSONParser(raw.assumingMemoryBound(to: UInt8.self))
        p.i = start
        return p.plainSkip(depth: 1) ? p.i : nil
    }

    /// Skips one value (whitespace around members allowed, as the parser allows it).
    mutating func plainSkip(depth: Int) -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "{"):
            return plainMembers(depth: depth) { p, _ in p.plainSkip(depth: depth + 1) }
        case UInt8(ascii: "["):
            return plainArray(depth: depth) { p in p.plainSkip(depth: depth + 1) }
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "t"): return (try? literal("true")) != nil
        case UInt8(ascii: "f"): return (try? literal("false")) != nil
        case UInt8(ascii: "n"): return (try? literal("null")) != nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return skipNumber()
        default: return false
        }
    }

    /// A string with its escapes, each checked for form.
    private mutating func skipString() -> Bool {
        i += 1
        while true {
            i = JSONWriter.firstEscape(b, from: i)
            guard i < b.count, b[i] >= 0x20 else { return false }
            if b[i] == UInt8(ascii: "\"") { i += 1; return true }
            // A backslash: one of the short escapes, or \u and four hex digits.
            guard i + 1 < b.count else { return false }
            switch b[i + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                 UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                i += 2
            case UInt8(ascii: "u"):
                guard i + 6 <= b.count, (i + 2..<i + 6).allSatisfy({ Self.isHexDigit(b[$0]) }) else { return false }
                i += 6
            default:
                return false
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func skipNumber() -> Bool {
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, Self.isDigit(b[i]) else { return false }
        if b[i] == UInt8(ascii: "0") { i += 1 } else { skipDigits() }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, Self.isDigit(b[i]) else { return false }
            skipDigits()
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, Self.isDigit(b[i]) else { return false }
            skipDigits()
        }
        return true
    }

    private mutating func skipDigits() {
        while i < b.count, Self.isDigit(b[i]) { i += 1 }
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }
}
