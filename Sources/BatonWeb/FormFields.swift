/// The fields of an `application/x-www-form-urlencoded` text: a URL's query or a POSTed
/// form (the same encoding: `+` is a space, `%XX` a byte). A repeated key keeps its first
/// value. Bytes that do not decode to UTF-8 make the field a `WebError.badParameter`.
struct FormFields: Sendable {
    private(set) var values: [String: String] = [:]

    init(_ encoded: String) throws(WebError) {
        for pair in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0], field: String(parts[0]))
            let value = parts.count > 1 ? try Self.decode(parts[1], field: key) : ""
            if values[key] == nil { values[key] = value }
        }
    }

    init(values: [String: String]) { self.values = values }

    subscript(_ key: String) -> String? { values[key] }

    /// The value, or nil when absent or empty (an empty filter box means "no filter").
    func nonEmpty(_ key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }

    private static func decode(_ s: Substring, field: String) throws(WebError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            switch b {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let h = it.next(), let l = it.next(), let hi = hexValue(h), let lo = hexValue(l) else {
                    throw .badParameter(field: field, "bad %-escape")
                }
                bytes.append(hi << 4 | lo)
            default: bytes.append(b)
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .badParameter(field: field, "not valid UTF-8")
        }
        return text
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
