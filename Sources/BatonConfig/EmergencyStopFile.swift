import Foundation
import Yams

/// The emergency stop file (`emergency_stop_file:` in the broker config): a YAML mapping
/// of workflow name (or `"*"`, every name) to `go` or `stop`, kept in configuration
/// management. The broker re-reads it when it changes.
///
/// Fail-safe: a file that cannot be read, is not valid YAML, or holds anything but
/// `name: go|stop` entries is an error, and the broker takes an error as `"*": stop`
/// (stop everything), never as go.
public enum EmergencyStopFile {
    public enum Decision: String, Sendable {
        case go, stop
    }

    /// Reads and parses `path`.
    public static func load(_ path: String) throws(ConfigError) -> [String: Decision] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, path: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, path: "", message: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses the file's text; an empty file stops nothing.
    public static func parse(_ yaml: String, file: String? = nil) throws(ConfigError) -> [String: Decision] {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return [:] }
            root = node
        } catch {
            throw ConfigError(syntax: error, file: file)
        }
        guard let mapping = root.mapping else {
            throw ConfigError(file: file, line: root.mark?.line, path: "",
                              message: "expected a mapping of workflow name (or \"*\") to go or stop")
        }
        var decisions: [String: Decision] = [:]
        for (key, value) in mapping {
            guard let name = key.string, !name.isEmpty else {
                throw ConfigError(file: file, line: key.mark?.line, path: "", message: "a key must be a workflow name or \"*\"")
            }
            guard let text = value.string, let decision = Decision(rawValue: text.lowercased()) else {
                throw ConfigError(file: file, line: value.mark?.line ?? key.mark?.line, path: name,
                                  message: "must be go or stop")
            }
            decisions[name] = decision
        }
        return decisions
    }
}
