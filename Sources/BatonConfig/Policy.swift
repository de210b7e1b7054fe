/// Rules bound to workflow names. A policy applies to a workflow when any of its
/// patterns matches the workflow's name; every applicable policy must pass.
public struct Policy: Equatable, Sendable {
    public var name: String
    public var workflows: [NamePattern]
    public var rules: [PolicyRule]

    public init(name: String, workflows: [NamePattern], rules: [PolicyRule]) {
        self.name = name
        self.workflows = workflows
        self.rules = rules
    }

    public func covers(_ workflowName: String) -> Bool {
        workflows.contains { $0.matches(workflowName) }
    }
}

extension Policy: Decodable {
    /// `rules` may be absent or empty: the policy then only admits its names, which is
    /// how a `default: deny` file lists the workflows it allows as they are.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["name", "workflows", "rules"])
        let name: String = try c.required("name")
        guard !name.isEmpty else { throw invalid(c.path("name"), "must not be empty") }
        let workflows: [NamePattern] = try c.required("workflows")
        guard !workflows.isEmpty else { throw invalid(c.path("workflows"), "must list at least one workflow name or glob") }
        self.init(name: name, workflows: workflows, rules: try c.optional("rules") ?? [])
    }
}

/// What a name that no policy covers gets.
public enum DefaultDecision: String, Sendable, Decodable {
    case allow, deny

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let d = DefaultDecision(rawValue: text) else {
            throw invalid(decoder.codingPath, "\"\(text)\" is neither allow nor deny")
        }
        self = d
    }
}
