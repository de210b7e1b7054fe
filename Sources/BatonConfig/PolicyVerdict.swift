/// When a policy check runs. See `PolicyRule.window` for the one rule that differs.
public enum PolicyPhase: String, Sendable {
    case submit, exec
}

public enum PolicyVerdict: Equatable, Sendable {
    case allowed
    case denied(PolicyDenial)
}

/// Why a workflow is refused: the text of ERROR `policy_denied`.
public struct PolicyDenial: Equatable, Sendable, CustomStringConvertible {
    /// The denying policy's name, or nil when no policy covers the name and `default` is deny.
    public var policy: String?
    public var rule: RuleKind?
    /// The offending block/job index, job type and field.
    public var detail: String

    public init(policy: String?, rule: RuleKind?, detail: String) {
        self.policy = policy
        self.rule = rule
        self.detail = detail
    }

    /// `policy "satellite-erase" rule same_args: blocks[1].jobs[3] (disk.erase) args.site is "nyc1", ...`
    public var description: String {
        guard let policy else { return detail }
        guard let rule else { return "policy \"\(policy)\": \(detail)" }
        return "policy \"\(policy)\" rule \(rule.rawValue): \(detail)"
    }
}

/// Every applicable policy's every rule, for `baton policy check`: the broker uses
/// `PolicySet.check`, which stops at the first failure.
public struct PolicyReport: Equatable, Sendable {
    public var workflow: String
    public var phase: PolicyPhase
    /// Empty when no policy covers the name (then `verdict` is the default's).
    public var policies: [PolicyOutcome]
    public var verdict: PolicyVerdict
}

public struct PolicyOutcome: Equatable, Sendable {
    public var name: String
    public var rules: [RuleOutcome]
}

public struct RuleOutcome: Equatable, Sendable {
    public var index: Int
    public var kind: RuleKind
    public var result: RuleResult
}

public enum RuleResult: Equatable, Sendable {
    case passed
    case failed(String)
    /// Not checked in this phase (`window` at SUBMIT).
    case skipped(String)
}
