/// Markup that is safe to send: every `String` interpolated into it is escaped, and only
/// literals written in this module (and other `HTML` values) pass through as markup.
/// Workflow names, outputs, errors, reasons and worker names come from users, so a page
/// is built only from `HTML` values; there is no way to interpolate raw text by accident.
public struct HTML: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    public private(set) var text: String

    public init(stringLiteral value: String) { text = value }

    public init(stringInterpolation: Interpolation) { text = stringInterpolation.text }

    public var description: String { text }

    public static let empty: HTML = ""

    /// The five characters that can end a text node or a quoted attribute value. Every
    /// attribute this module writes is double-quoted; `'` is escaped too so that a value
    /// stays inert in a single-quoted attribute as well.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Values joined without a separator.
    public static func join(_ parts: [HTML], separator: HTML = .empty) -> HTML {
        HTML(raw: parts.map(\.text).joined(separator: separator.text))
    }

    private init(raw: String) { text = raw }

    public struct Interpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// Markup: passed through.
        public mutating func appendInterpolation(_ html: HTML) { text += html.text }

        /// Markup list: passed through, in order.
        public mutating func appendInterpolation(_ list: [HTML]) { for h in list { text += h.text } }

        /// Text: escaped.
        public mutating func appendInterpolation(_ string: String) { text += HTML.escape(string) }

        /// Text: escaped.
        public mutating func appendInterpolation(_ string: Substring) { text += HTML.escape(String(string)) }

        /// Numbers need no escaping.
        public mutating func appendInterpolation<N: BinaryInteger>(_ n: N) { text += String(n) }
    }
}
