/// Why a config file was refused. `description` is what a user reads:
/// `baton.yaml:14: policies[0].rules[4].args.disk.erase.site.pattern: not a valid regular expression`.
///
/// `line` is 1-based and nil only when the file could not be read at all. `path` is the
/// field path in the file (`[i]` for list items, `.key` for mapping keys), empty for the
/// file as a whole.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file name as given, or nil when the config came from a string.
    public var file: String?
    public var line: Int?
    public var path: String
    public var message: String

    public init(file: String? = nil, line: Int?, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    public var description: String {
        var where_ = file ?? "config"
        if let line { where_ += ":\(line)" }
        return path.isEmpty ? "\(where_): \(message)" : "\(where_): \(path): \(message)"
    }
}
