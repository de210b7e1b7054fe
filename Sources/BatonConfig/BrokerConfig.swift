import Foundation
import Yams

/// A broker config file (`baton broker --config baton.yaml`), decoded and validated
/// completely: a value of this type holds no unchecked setting. Unknown keys anywhere
/// are errors, so a typo never silently drops a setting.
public struct BrokerConfig: Equatable, Sendable {
    /// `default:`; nil when absent, which allows every name no policy covers.
    public var defaultDecision: DefaultDecision?
    public var limits: RateLimits
    public var policies: [Policy]
    /// `emergency_stop_file:` as written (relative to the broker's working directory).
    public var emergencyStopFile: String?
    /// The keys that mirror `baton broker` flags.
    public var settings: BrokerSettings

    public init(defaultDecision: DefaultDecision? = nil, limits: RateLimits = RateLimits(), policies: [Policy] = [],
                emergencyStopFile: String? = nil, settings: BrokerSettings = BrokerSettings()) {
        self.defaultDecision = defaultDecision
        self.limits = limits
        self.policies = policies
        self.emergencyStopFile = emergencyStopFile
        self.settings = settings
    }

    /// What the broker checks SUBMIT and EXEC against.
    public var policySet: PolicySet {
        PolicySet(policies: policies, defaultDecision: defaultDecision ?? .allow)
    }

    /// Reads and validates `path`. Errors name the file, the line and the field path.
    public static func load(file path: String) throws(ConfigError) -> BrokerConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, path: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, path: "", message: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Validates YAML text; `file` only names the source in errors. An empty document is
    /// the empty config (everything allowed).
    public static func parse(_ yaml: String, file: String? = nil) throws(ConfigError) -> BrokerConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return BrokerConfig() }
            root = node
        } catch {
            throw ConfigError(syntax: error, file: file)
        }
        do {
            return try YAMLDecoder().decode(BrokerConfig.self, from: root)
        } catch let e as DecodingError {
            throw ConfigError(e, root: root, file: file)
        } catch {
            throw ConfigError(file: file, line: nil, path: "", message: "\(error)")
        }
    }
}

extension BrokerConfig: Decodable {
    static let keys = ["default", "limits", "policies", "emergency_stop_file"] + BrokerSettings.keys

    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: Self.keys)
        self.init(
            defaultDecision: try c.optional("default"),
            limits: try c.optional("limits") ?? RateLimits(),
            policies: try c.optional("policies") ?? [],
            emergencyStopFile: try c.nonEmpty("emergency_stop_file"),
            settings: try BrokerSettings(c))
        var seen: Set<String> = []
        for (i, p) in policies.enumerated() where !seen.insert(p.name).inserted {
            throw invalid(c.path("policies") + [ConfigKey(intValue: i)!, ConfigKey("name")], "a second policy named \"\(p.name)\"")
        }
    }
}
