/// Serialises `JSONValue` to compact UTF-8 JSON with object keys sorted.
///
/// Sorted keys make the output canonical: the same content always gives the same bytes,
/// so stored specs can be compared and tests can assert exact bytes.
public enum JSONWriter {
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(value, into: &out)
        return out
    }

    public static func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(literal: "null")
        case .bool(let v): if v { out.append(literal: "true") } else { out.append(literal: "false") }
        case .int(let v): writeInt(v, into: &out)
        case .double(let v):
            // Swift prints doubles with a fraction or exponent ("3.0", "1e+20"), so a
            // double reads back as a double. JSON has no NaN or infinity: they become null.
            if v.isFinite {
                out.append(contentsOf: "\(v)".utf8)
            } else {
                out.append(literal: "null")
            }
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields): writeObject(fields, into: &out)
        }
    }

    /// Writes an object with its keys in `String` order.
    ///
    /// The dictionary's indices are sorted in a temporary buffer (on the stack for small
    /// objects, which is nearly all of them: event fields, replies), not copied out as an
    /// array of (key, value) pairs: `sorted(by:)` cost a heap array plus a retain and
    /// release of every key and value, 2,200 instructions per event's fields in the profile.
    public static func writeObject(_ fields: [String: JSONValue], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        withUnsafeTemporaryAllocation(of: Dictionary<String, JSONValue>.Index.self, capacity: fields.count) { slots in
            var n = 0
            var i = fields.startIndex
            while i != fields.endIndex {
                slots.initializeElement(at: n, to: i)
                n += 1
                i = fields.index(after: i)
            }
            // Insertion sort for the handful of keys objects here have (no allocation);
            // the library's O(n log n) sort above that, so a huge object stays cheap.
            if n > 16 {
                var all = slots
                all.sort { fields[$0].key < fields[$1].key }
            } else if n > 1 {
                for a in 1..<n {
                    let moving = slots[a]
                    let key = fields[moving].key
                    var b = a
                    while b > 0 && key < fields[slots[b - 1]].key {
                        slots[b] = slots[b - 1]
                        b -= 1
                    }
                    slots[b] = moving
                }
            }
            for k in 0..<n {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                let (key, item) = fields[slots[k]]
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(item, into: &out)
            }
            _ = UnsafeMutableBufferPointer(rebasing: slots[..<n]).deinitialize()
        }
        out.append(UInt8(ascii: "}"))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes a signed integer in decimal without allocating a String.
    public static func writeInt(_ v: Int64, into out: inout [UInt8]) {
        if v >= 0 && v < 10 {
            out.append(UInt8(ascii: "0") + UInt8(v))
            return
        }
        // The magnitude as UInt64 covers Int64.min, whose negation overflows Int64.
        var m = v < 0 ? UInt64(bitPattern: 0 &- v) : UInt64(v)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var start = 24
        withUnsafeMutableBytes(of: &digits) { buf in
            // Two digits per 64-bit division: the millisecond timestamps every event row
            // and job body carry have 13 digits, and a digit at a time was ~370
            // instructions each in the profile.
            while m >= 100 {
                let pair = m % 100
                m /= 100
                start -= 2
                buf[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: pair / 10)
                buf[start + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: pair % 10)
            }
            if m >= 10 {
                start -= 2
                buf[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m / 10)
                buf[start + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m % 10)
            } else {
                start -= 1
                buf[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: m)
            }
            if v < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[start...]))
        }
    }

    /// Whether byte `c` must be escaped inside a JSON string.
    @inline(__always)
    private static func needsEscape(_ c: UInt8) -> Bool {
        c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\")
    }

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        // Fast path: native strings are contiguous UTF-8; runs without escapes are
        // copied in one append instead of byte by byte, and found 8 bytes at a time.
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { bytes in
            out.append(UInt8(ascii: "\""))
            var runStart = 0
            var i = firstEscape(bytes, from: 0)
            while i < bytes.count {
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                writeEscaped(bytes[i], into: &out)
                runStart = i + 1
                i = firstEscape(bytes, from: runStart)
            }
            if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
            out.append(UInt8(ascii: "\""))
        }
        if done != nil { return }
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            if needsEscape(c) { writeEscaped(c, into: &out) } else { out.append(c) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `"<workflowId>.<block>.<job>"`, a job's id (spec §3) as `writeString` writes it,
    /// without making the id a String first: event rows name the job by its id, and the
    /// String (made, written, freed) cost ~680 instructions per event in `scripts/profile`.
    /// The dots and digits need no escaping, so the bytes are the same.
    public static func writeJobId(_ workflowId: String, block: Int, job: Int, into out: inout [UInt8]) {
        writeString(workflowId, into: &out)
        out.removeLast()  // the closing quote, written again after the numbers
        out.append(UInt8(ascii: "."))
        writeInt(Int64(block), into: &out)
        out.append(UInt8(ascii: "."))
        writeInt(Int64(job), into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// The index of the first byte at or after `start` that needs an escape, or
    /// `bytes.count`. Whole words first: the byte-by-byte scan was about 8 instructions
    /// a byte, and strings (ids, job types, names) are written some 30 times per
    /// one-job workflow.
    @inline(__always)
    static func firstEscape(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let raw = UnsafeRawBufferPointer(bytes)
        var i = start
        while i + 8 <= bytes.count, !wordNeedsEscape(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { i += 8 }
        while i < bytes.count, !needsEscape(bytes[i]) { i += 1 }
        return i
    }

    /// Whether any byte of `w` is below 0x20, a quote or a backslash: the bit tricks
    /// "has a byte less than n" and "has a zero byte" (of `w` XOR the byte repeated),
    /// exact as yes/no answers (which byte it is, the byte loop finds). Bytes of 0x80 and
    /// up (UTF-8 beyond ASCII) never answer yes.
    @inline(__always)
    static func wordNeedsEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- ones &* 0x20) & ~w & highs
        let q = w ^ (ones &* 0x22), b = w ^ (ones &* 0x5C)
        let quote = (q &- ones) & ~q & highs
        let backslash = (b &- ones) & ~b & highs
        return (control | quote | backslash) != 0
    }

    private static func writeEscaped(_ c: UInt8, into out: inout [UInt8]) {
        switch c {
        case UInt8(ascii: "\""): out.append(0x5C); out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
        case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
        case 0..<0x20:
            out.append(0x5C); out.append(UInt8(ascii: "u")); out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "0"))
            out.append(hex[Int(c >> 4)])
            out.append(hex[Int(c & 0xF)])
        default: out.append(c)
        }
    }
}
