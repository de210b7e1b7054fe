/// One JSON value held as its canonical text: the bytes `JSONWriter` writes for it
/// (spec §3.2.1: keys sorted, compact, integers in plain decimal, strings escaped only
/// where JSON requires it).
///
/// Why: the broker never looks inside a job's output. It reads it from RESULT, stores it
/// (the event row's `outputs`) and sends it in STATUS pages. As a `JSONValue` each output
/// was built into a tree (a dictionary allocated and hashed per object), written back to
/// bytes for the store, again for every STATUS page, and freed: ~3,000 instructions per
/// fan-out job in `scripts/profile`. A worker that writes compact JSON with sorted keys
/// (every reference writer does) sends text that is already canonical; that text is
/// checked (`JSONParser.canonicalValue`) and kept as it came. Anything else is parsed and
/// written as before, so what is stored and sent is byte for byte what it was.
///
/// Invariant: `bytes` is exactly `JSONWriter.bytes(value)` for the value it holds.
/// Two texts are equal when their bytes are; for canonical texts that is when the
/// values are (but for -0.0 against 0.0, which JSON's text keeps apart).
public struct JSONText: Equatable, Hashable, Sendable {
    public let bytes: [UInt8]

    /// The canonical text of `value`.
    public init(_ value: JSONValue) {
        bytes = JSONWriter.bytes(value)
    }

    /// Bytes already checked to be canonical (`JSONParser.canonicalValue`).
    init(canonical bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The text of the one JSON value in `raw` (whitespace around it allowed): kept as it
    /// is when it is canonical, else parsed and written canonically. Throws what the
    /// parser throws for bytes that are not JSON.
    public init(parsing raw: UnsafeRawBufferPointer) throws(JSONParser.Failure) {
        let buffer = raw.assumingMemoryBound(to: UInt8.self)
        var p = JSONParser(buffer)
        p.skipSpace()
        let start = p.i
        if p.canonicalValue(depth: 0) {
            let end = p.i
            p.skipSpace()
            if p.i == buffer.count {
                self.init(canonical: Array(UnsafeBufferPointer(rebasing: buffer[start..<end])))
                return
            }
        }
        self.init(try JSONParser.parse(raw))
    }

    public init(parsing bytes: [UInt8]) throws(JSONParser.Failure) {
        let read = bytes.withUnsafeBytes { raw in Result { () throws(JSONParser.Failure) in try JSONText(parsing: raw) } }
        self = try read.get()
    }

    /// The value, parsed from the text. The text is the writer's, so it parses; `.null`
    /// would mean the invariant broke (asserted in debug builds).
    public var value: JSONValue {
        do { return try JSONParser.parse(bytes) } catch {
            assertionFailure("JSONText holds text that does not parse: \(error)")
            return .null
        }
    }

    /// Whether this is the text `null`.
    public var isNull: Bool { bytes.count == 4 && bytes[0] == UInt8(ascii: "n") }

    /// The text `{}`.
    public static let emptyObject = JSONText(canonical: Array("{}".utf8))

    /// Member `key` of the object this text holds; nil when there is none (or this is
    /// not an object): `value.objectValue?[key]`, found by walking the members and
    /// skipping the others' values instead of building the object.
    ///
    /// The walk compares bytes, which is `String`'s equality only for ASCII: "K" equals
    /// U+212A KELVIN SIGN as a String. So a key beyond ASCII, wanted or met in the text,
    /// and a key with escapes (which the walk does not read) send it to the whole parse.
    public func member(_ key: String) -> JSONValue? {
        var key = key
        let walked: JSONValue?? = key.withUTF8 { wanted in
            guard wanted.allSatisfy({ $0 < 0x80 }) else { return nil }
            return bytes.withUnsafeBufferPointer { text in
                var p = JSONParser(text)
                var found: JSONValue?
                let read = p.plainMembers(depth: 1) { p, k in
                    guard k.allSatisfy({ $0 < 0x80 }) else { return false }
                    guard k.elementsEqual(wanted) else { return p.plainSkip(depth: 2) }
                    guard let v = try? p.value(depth: 2) else { return false }
                    found = v
                    return true
                }
                return read ? .some(found) : nil
            }
        }
        if let walked { return walked }
        return value.objectValue?[key]
    }
}

extension JSONParser {
    /// The value at `i` as `JSONText`: its text kept as it came when it is canonical, else
    /// parsed (at `depth`, as `value(depth:)` reads it) and written anew; nil when no
    /// valid value starts there (`i` is then anywhere). `i` ends just after the value.
    /// The RESULT's output and a job's args are read so.
    mutating func text(depth: Int) -> JSONText? {
        let start = i
        if canonicalValue(depth: depth) { return JSONText(canonical: Array(UnsafeBufferPointer(rebasing: b[start..<i]))) }
        i = start
        guard let value = try? value(depth: depth) else { return nil }
        return JSONText(value)
    }

    /// Reads the value at `i` and answers whether its text is canonical: exactly what
    /// `JSONWriter.write(value(depth:))` would write. On true, `i` is just after the
    /// value; on false, `i` is anywhere and the caller parses from where it started.
    ///
    /// Conservative: it answers false for some canonical text, and then the caller's
    /// parse and rewrite give the same bytes, only dearer. What it accepts: no
    /// whitespace; objects whose keys are printable ASCII without escapes, in strictly
    /// ascending byte order (for ASCII, `String`'s order, which the writer sorts by; no
    /// duplicates); strings of printable ASCII and the writer's escapes (`\"`, `\\`,
    /// `\n`, `\r`, `\t`, `\u00xx` in lowercase hex for the other control characters);
    /// integers of at most 18 digits (in Int64's range) with no leading zero and no
    /// `-0`; `true`, `false`, `null`. Not accepted (parsed instead): any byte from
    /// 0x80 (UTF-8 beyond ASCII, whose validity the parser checks), numbers with a
    /// fraction or an exponent (the writer's shortest form of a double), and nesting
    /// deeper than the parser's `maxDepth` (the parser words that error).
    mutating func canonicalValue(depth: Int) -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "{"): return canonicalObject(depth: depth + 1)
        case UInt8(ascii: "["): return canonicalArray(depth: depth + 1)
        case UInt8(ascii: "\""): return canonicalString(key: false)
        case UInt8(ascii: "t"): return (try? literal("true")) != nil
        case UInt8(ascii: "f"): return (try? literal("false")) != nil
        case UInt8(ascii: "n"): return (try? literal("null")) != nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return canonicalInteger()
        default: return false
        }
    }

    private mutating func canonicalObject(depth: Int) -> Bool {
        guard depth <= Self.maxDepth else { return false }
        i += 1
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "}") { i += 1; return true }
        var previousKey: Range<Int>?
        while true {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return false }
            let keyStart = i + 1
            guard canonicalString(key: true) else { return false }
            let key = keyStart..<(i - 1)
            if let previousKey, !keyBytes(previousKey, precede: key) { return false }
            previousKey = key
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
            i += 1
            guard canonicalValue(depth: depth), i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return true }
            return false
        }
    }

    /// Whether key `a` sorts strictly before key `b` by bytes (a prefix sorts first).
    private func keyBytes(_ a: Range<Int>, precede c: Range<Int>) -> Bool {
        let x = UnsafeBufferPointer(rebasing: b[a]), y = UnsafeBufferPointer(rebasing: b[c])
        return x.lexicographicallyPrecedes(y)
    }

    private mutating func canonicalArray(depth: Int) -> Bool {
        guard depth <= Self.maxDepth else { return false }
        i += 1
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "]") { i += 1; return true }
        while true {
            guard canonicalValue(depth: depth), i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return true }
            return false
        }
    }

    /// A string as the writer writes it; a key takes no escapes at all (the check of
    /// key order compares the bytes between the quotes).
    private mutating func canonicalString(key: Bool) -> Bool {
        i += 1
        while true {
            let run = i
            i = JSONWriter.firstEscape(b, from: i)
            guard i < b.count, Self.isASCII(b, run..<i) else { return false }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return true
            }
            // A control byte raw (the writer escapes it) or a key with an escape.
            guard c == UInt8(ascii: "\\"), !key, i + 1 < b.count else { return false }
            switch b[i + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                i += 2
            case UInt8(ascii: "u"):
                // \u00XX for a control character other than \n, \r, \t, in lowercase hex.
                guard i + 6 <= b.count, b[i + 2] == UInt8(ascii: "0"), b[i + 3] == UInt8(ascii: "0"),
                      let high = Self.lowerHex(b[i + 4]), high <= 1, let low = Self.lowerHex(b[i + 5])
                else { return false }
                let scalar = high << 4 | low
                guard scalar != 0x09, scalar != 0x0A, scalar != 0x0D else { return false }
                i += 6
            default:
                return false
            }
        }
    }

    /// Whether no byte in `range` is 0x80 or above, 8 bytes at a time.
    private static func isASCII(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        let raw = UnsafeRawBufferPointer(b)
        var k = range.lowerBound
        while k + 8 <= range.upperBound {
            if raw.loadUnaligned(fromByteOffset: k, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            k += 8
        }
        while k < range.upperBound {
            if b[k] >= 0x80 { return false }
            k += 1
        }
        return true
    }

    private static func lowerHex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    /// `0`, or `-?[1-9][0-9]*` of at most 18 digits, not followed by a fraction or an
    /// exponent.
    private mutating func canonicalInteger() -> Bool {
        let negative = b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < b.count else { return false }
        let start = i
        if b[i] == UInt8(ascii: "0") {
            guard !negative else { return false }  // "-0" is written "0"
            i += 1
        } else {
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
            guard i > start, i - start <= 18 else { return false }
        }
        guard i < b.count else { return true }
        let c = b[i]
        return c != UInt8(ascii: ".") && c != UInt8(ascii: "e") && c != UInt8(ascii: "E")
            && !(c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
