import Yams

extension ConfigError {
    /// A YAML syntax error: libyaml's mark gives the line.
    init(syntax error: any Error, file: String?) {
        guard let y = error as? YamlError else {
            self.init(file: file, line: nil, path: "", message: "\(error)")
            return
        }
        switch y {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let what = context.map { "\($0.text), \(problem)" } ?? problem
            self.init(file: file, line: mark.line, path: "", message: "not valid YAML: \(what)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(file: file, line: context.mark.line, path: "",
                      message: "duplicate key \(duplicates.map { "\"\($0)\"" }.joined(separator: ", ")) in one mapping")
        case .reader(let problem, _, _, _):
            self.init(file: file, line: nil, path: "", message: "not readable: \(problem)")
        default:
            self.init(file: file, line: nil, path: "", message: "not valid YAML: \(y)")
        }
    }

    /// A decoding or validation error: the coding path is the field path, and walking
    /// it through the composed tree finds the line.
    init(_ error: DecodingError, root: Node, file: String?) {
        let (codingPath, message): ([any CodingKey], String)
        switch error {
        case .typeMismatch(let type, let ctx): (codingPath, message) = (ctx.codingPath, "must be \(Self.describe(type))")
        case .valueNotFound(_, let ctx): (codingPath, message) = (ctx.codingPath, "required")
        case .keyNotFound(let key, let ctx): (codingPath, message) = (ctx.codingPath + [key], "required")
        case .dataCorrupted(let ctx): (codingPath, message) = (ctx.codingPath, ctx.debugDescription)
        @unknown default: (codingPath, message) = ([], "\(error)")
        }
        self.init(file: file, line: Self.line(of: codingPath, in: root), path: Self.format(codingPath), message: message)
    }

    /// `policies[0].rules[2].args.disk.erase.site.pattern`.
    static func format(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            // A dictionary's coding key also has an intValue when its text is a number:
            // only a list index is written [i].
            if let i = key.intValue, !String(describing: type(of: key)).contains("Dictionary") {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out
    }

    /// The line of the deepest node on `path`: for a mapping entry, its key's line (the
    /// line a user looks for); for a missing key, the line of the mapping's own key.
    static func line(of path: [any CodingKey], in root: Node) -> Int? {
        var node = root
        var line = root.mark?.line
        for key in path {
            if let mapping = node.mapping, let entry = mapping.first(where: { $0.key.string == key.stringValue }) {
                line = entry.key.mark?.line ?? line
                node = entry.value
            } else if let sequence = node.sequence, let i = key.intValue, sequence.indices.contains(i) {
                node = sequence[sequence.index(sequence.startIndex, offsetBy: i)]
                line = node.mark?.line ?? line
            } else {
                break
            }
        }
        return line
    }

    private static func describe(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.contains("Mapping") || name.hasPrefix("Dictionary") { return "a mapping (key: value)" }
        if name.contains("Sequence") || name.hasPrefix("Array") { return "a list" }
        if name.contains("Scalar") || name == "String" { return "a single value (a string)" }
        if name.hasPrefix("Int") { return "an integer" }
        if name == "Bool" { return "true or false" }
        return "a \(name)"
    }
}
