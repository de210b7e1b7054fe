import BatonWire
import Foundation

/// What the `args` rule asks of one argument of one job type. `enum` and `pattern` may
/// both be set; a value must then satisfy both. Both compare the argument's scalar text
/// (a string as is, a number or boolean as JSON writes it); an object, array or null
/// value never matches.
public struct ArgConstraint: Equatable, Sendable {
    public var required: Bool
    public var allowed: [String]?
    public var pattern: ArgPattern?

    public init(required: Bool = false, allowed: [String]? = nil, pattern: ArgPattern? = nil) {
        self.required = required
        self.allowed = allowed
        self.pattern = pattern
    }

    /// Why `value` (nil: the job has no such argument) breaks the constraint, or nil.
    func violation(_ value: JSONValue?) -> String? {
        guard let value, value != .null else { return required ? "is required" : nil }
        let text = value.scalarText
        if let allowed {
            guard let text, allowed.contains(text) else {
                return "is \(value.shown), not one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))"
            }
        }
        if let pattern {
            guard let text, pattern.matches(text) else {
                return "is \(value.shown), which does not match /\(pattern.source)/"
            }
        }
        return nil
    }
}

/// A regular expression from the config, compiled once at load. Searched, not anchored:
/// write `^…$` to match the whole value (as the issue's example does).
///
/// `@unchecked Sendable`: NSRegularExpression is immutable and documented thread-safe.
public struct ArgPattern: Equatable, @unchecked Sendable {
    public let source: String
    private let regex: NSRegularExpression

    /// Nil when `source` is not a valid regular expression.
    public init?(_ source: String) {
        guard let r = try? NSRegularExpression(pattern: source) else { return nil }
        self.source = source
        regex = r
    }

    public func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    public static func == (a: ArgPattern, b: ArgPattern) -> Bool { a.source == b.source }
}

extension ArgConstraint: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["required", "enum", "pattern"])
        var constraint = ArgConstraint(required: try c.optional("required") ?? false, allowed: try c.optional("enum"))
        if let allowed = constraint.allowed, allowed.isEmpty { throw invalid(c.path("enum"), "must list at least one value") }
        if let source: String = try c.optional("pattern") {
            guard let p = ArgPattern(source) else { throw invalid(c.path("pattern"), "not a valid regular expression") }
            constraint.pattern = p
        }
        self = constraint
    }
}

extension JSONValue {
    /// The text `enum` and `pattern` compare: nil for values that are not scalars.
    var scalarText: String? {
        switch self {
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"  // as JSONWriter writes them, without writing
        case .int, .double: JSONWriter.string(self)
        case .null, .array, .object: nil
        }
    }

    /// The value as a denial message quotes it: JSON, so strings show their quotes.
    var shown: String { JSONWriter.string(self) }
}
