/// A workflow name pattern: exact, or a glob where `*` matches any run of characters
/// (also none) and `?` exactly one. No character classes, no escapes: workflow names
/// never hold `*` or `?` in practice, and a smaller language has fewer surprises.
public struct NamePattern: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let text: String
    private let scalars: [Unicode.Scalar]
    private let isGlob: Bool

    public init(_ text: String) {
        self.text = text
        scalars = Array(text.unicodeScalars)
        isGlob = scalars.contains("*") || scalars.contains("?")
    }

    public var description: String { text }

    public func matches(_ name: String) -> Bool {
        guard isGlob else { return name == text }
        return Self.glob(scalars, Array(name.unicodeScalars))
    }

    /// Iterative glob with one backtrack point (the last `*`): linear in practice and
    /// never exponential, unlike the naive recursion.
    private static func glob(_ p: [Unicode.Scalar], _ s: [Unicode.Scalar]) -> Bool {
        var pi = 0, si = 0
        var star: Int?, starSi = 0
        while si < s.count {
            if pi < p.count, p[pi] == "?" || (p[pi] != "*" && p[pi] == s[si]) {
                pi += 1
                si += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi
                starSi = si
                pi += 1
            } else if let st = star {
                pi = st + 1
                starSi += 1
                si = starSi
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

extension NamePattern: Decodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard !text.isEmpty else { throw invalid(decoder.codingPath, "must not be empty") }
        self.init(text)
    }
}
