extension JSONWriter {
    /// The number of bytes `write` produces for `value`, counted without writing, and
    /// given up on as soon as it passes `limit`: then some number over `limit` is
    /// returned. So measuring a value against a budget costs at most the budget, whatever
    /// the value's size (a long string's UTF-8 length is known without reading it).
    public static func size(of value: JSONValue, upTo limit: Int) -> Int {
        var total = 0
        add(value, to: &total, limit: max(limit, 0))
        return total
    }

    private static func add(_ value: JSONValue, to total: inout Int, limit: Int) {
        guard total <= limit else { return }
        switch value {
        case .null: total += 4
        case .bool(let v): total += v ? 4 : 5
        case .int(let v): total += digits(v)
        case .double(let v): total += v.isFinite ? "\(v)".utf8.count : 4
        case .string(let s): addString(s, to: &total, limit: limit)
        case .array(let items):
            total += 2 + max(0, items.count - 1)
            for item in items where total <= limit { add(item, to: &total, limit: limit) }
        case .object(let fields):
            total += 2 + max(0, fields.count - 1) + fields.count  // braces, commas, colons
            for (key, item) in fields where total <= limit {
                addString(key, to: &total, limit: limit)
                add(item, to: &total, limit: limit)
            }
        }
    }

    private static func digits(_ v: Int64) -> Int {
        var m = v < 0 ? UInt64(bitPattern: 0 &- v) : UInt64(v)
        var n = v < 0 ? 2 : 1
        while m >= 10 {
            m /= 10
            n += 1
        }
        return n
    }

    /// Quotes, bytes, and what escaping adds (`\n` one byte more, `\u00XX` five).
    private static func addString(_ s: String, to total: inout Int, limit: Int) {
        total += 2 + s.utf8.count
        guard total <= limit else { return }
        for c in s.utf8 where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09: total += 1
            default: total += 5
            }
        }
    }
}
