/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// Why not Foundation's coders: the broker needs errors that say where the input is
/// wrong, a nesting bound (a deeply nested body must not exhaust the stack), and no
/// bridging through NSNumber (which blurs booleans and numbers on Linux).
public struct JSONParser {
    /// Deepest nesting accepted; deeper input is rejected, not recursed into.
    public static let maxDepth = 64

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(Failure) in try parse(UnsafeRawBufferPointer(buffer)) }
    }

    /// Parses bytes that live elsewhere (a database column), without copying them.
    public static func parse(_ raw: UnsafeRawBufferPointer) throws(Failure) -> JSONValue {
        let buffer = raw.assumingMemoryBound(to: UInt8.self)
        var p = JSONParser(buffer)
        p.skipSpace()
        let value = try p.value(depth: 0)
        p.skipSpace()
        if p.i != buffer.count { throw p.fail("unexpected data after the value") }
        return value
    }

    public static func parse(_ text: String) throws(Failure) -> JSONValue {
        try parse(Array(text.utf8))
    }

    // Internal, not private: the typed spec reader (JSONParser+Spec.swift) walks the
    // same bytes with the same primitives.
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    /// Members of the objects being parsed, innermost last, each with the offset just
    /// after its value. An object is built once its members are all read, at its exact
    /// size: inserting into an empty dictionary one member at a time regrows and rehashes
    /// it (capacity 1, 2, 4, 8...), which the profile showed as a third of parsing.
    /// One buffer serves every object of a parse.
    private var members: [(key: String, value: JSONValue, end: Int)] = []

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    private func fail(_ reason: String) -> Failure { Failure(offset: i, reason: reason) }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("unexpected end of input") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
        i += n
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth)") }
        i += 1
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object([:]) }
        let first = members.count
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try string()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            let v = try value(depth: depth)
            members.append((key, v, i))
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of input") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") {
                i += 1
                return .object(try takeMembers(from: first))
            }
            throw fail("expected ',' or '}'")
        }
    }

    /// The members from `first` on, as one dictionary; removes them from `members`.
    private mutating func takeMembers(from first: Int) throws(Failure) -> [String: JSONValue] {
        var result = [String: JSONValue](minimumCapacity: members.count - first)
        for m in members[first...] {
            // Duplicate keys are ambiguous (RFC 8259 §4); refuse rather than pick one.
            // Reported where the duplicate's value ends, as it is read.
            if result.updateValue(m.value, forKey: m.key) != nil {
                throw Failure(offset: m.end, reason: "duplicate key \"\(m.key)\"")
            }
        }
        members.removeSubrange(first...)
        return result
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth)") }
        i += 1
        var result: [JSONValue] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(result) }
        while true {
            skipSpace()
            result.append(try value(depth: depth))
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of input") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(result) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func string() throws(Failure) -> String {
        i += 1
        let start = i
        // Fast path: no escapes. The scan stops at the first quote, backslash or control
        // byte, 8 bytes at a time (the writer's `firstEscape`: the same three).
        i = JSONWriter.firstEscape(b, from: i)
        guard i < b.count else { throw fail("unterminated string") }
        if b[i] < 0x20 { throw fail("control character in string") }
        if b[i] == UInt8(ascii: "\"") {
            let s = try decodeUTF8(start..<i)
            i += 1
            return s
        }
        var bytes = Array(b[start..<i])
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw fail("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                bytes.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw fail("invalid escape")
            }
        }
        guard let s = UTF8Text.decode(bytes) else { throw fail("invalid UTF-8 in string") }
        return s
    }

    private func decodeUTF8(_ range: Range<Int>) throws(Failure) -> String {
        guard let s = UTF8Text.decode(UnsafeBufferPointer(rebasing: b[range])) else {
            throw Failure(offset: range.lowerBound, reason: "invalid UTF-8 in string")
        }
        return s
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= b.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func number() throws(Failure) -> JSONValue {
        let start = i
        var isInteger = true
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw fail("invalid number") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        // Up to 18 digits cannot overflow Int64: accumulate them without making a String.
        let negative = b[start] == UInt8(ascii: "-")
        let digitsStart = negative ? start + 1 : start
        if isInteger && i - digitsStart <= 18 {
            var v: Int64 = 0
            for k in digitsStart..<i { v = v &* 10 &+ Int64(b[k] &- UInt8(ascii: "0")) }
            return .int(negative ? -v : v)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if isInteger, let v = Int64(text) { return .int(v) }
        guard let d = Double(text), d.isFinite else { throw Failure(offset: start, reason: "number out of range") }
        return .double(d)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
