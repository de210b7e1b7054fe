/// Percent-encoding for what goes into a URL this module writes: a path segment or a
/// query value. (The result is then HTML-escaped like any text when it lands in `href`.)
enum URLPart {
    /// Unreserved characters (RFC 3986 §2.3) stay; every other byte is `%XX`.
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 15)])
            }
        }
        return out
    }

    /// `path?k=v&…`, leaving out nil values; keys are this module's own (plain ASCII).
    static func link(_ path: String, _ query: [(String, String?)]) -> String {
        let pairs = query.compactMap { k, v in v.map { "\(k)=\(encode($0))" } }
        return pairs.isEmpty ? path : path + "?" + pairs.joined(separator: "&")
    }

    /// The page of one workflow.
    static func workflow(_ id: String) -> String { "/workflows/" + encode(id) }
}
