import BatonWire

/// The policies of one config and its default: what the broker asks at SUBMIT and EXEC.
///
/// Which policies apply: every policy with a pattern matching the workflow's name, in
/// file order; all of them must pass. A name no policy covers gets `defaultDecision`.
/// `window` rules are checked at EXEC only (SUBMIT runs nothing, so it always passes
/// them); every other rule at both, because the config may change in between.
public struct PolicySet: Equatable, Sendable {
    public var policies: [Policy]
    public var defaultDecision: DefaultDecision

    public init(policies: [Policy], defaultDecision: DefaultDecision) {
        self.policies = policies
        self.defaultDecision = defaultDecision
    }

    /// No policy, everything allowed: the broker without a config (development mode).
    public static let allowAll = PolicySet(policies: [], defaultDecision: .allow)

    /// The verdict for `spec` at `nowMs` (Unix ms, UTC): the first failing rule of the
    /// first failing applicable policy, or allowed.
    public func check(_ spec: WorkflowSpec, owner: String? = nil, at nowMs: Int64, phase: PolicyPhase) -> PolicyVerdict {
        check(spec, owner: owner, at: nowMs, phase: phase, covering: covering(spec.name))
    }

    /// The indices of the policies whose patterns match `name`, in file order. Depends on
    /// the name only, so a caller checking many workflows may keep it per name (the
    /// broker does: matching every policy's globs was most of a check's cost).
    public func covering(_ name: String) -> [Int] {
        policies.indices.filter { policies[$0].covers(name) }
    }

    /// `check`, with `covering(spec.name)` already known.
    /// `owner`: the name of the caller's key (nil in plain mode), for `owners` rules.
    /// `timeRulesOnly`: only the rules whose verdict depends on the time (`window`), for
    /// a spec and owner that passed the others under these policies: the verdict is then
    /// the full check's, since the first failing rule can only be one of these.
    public func check(_ spec: WorkflowSpec, owner: String? = nil, at nowMs: Int64, phase: PolicyPhase,
                      covering: [Int], timeRulesOnly: Bool = false) -> PolicyVerdict {
        for i in covering {
            let policy = policies[i]
            for rule in policy.rules where rule.isChecked(in: phase) && (!timeRulesOnly || rule.dependsOnTime) {
                if let why = rule.violation(spec, owner: owner, at: nowMs) {
                    return .denied(PolicyDenial(policy: policy.name, rule: rule.kind, detail: why))
                }
            }
        }
        return covering.isEmpty ? defaultVerdict(spec.name) : .allowed
    }

    /// Every applicable rule's result, and the same verdict `check` gives.
    public func report(_ spec: WorkflowSpec, owner: String? = nil, at nowMs: Int64, phase: PolicyPhase) -> PolicyReport {
        let outcomes = policies.filter { $0.covers(spec.name) }.map { policy in
            PolicyOutcome(name: policy.name, rules: policy.rules.enumerated().map { i, rule in
                RuleOutcome(index: i, kind: rule.kind, result: result(rule, spec, owner, nowMs, phase))
            })
        }
        return PolicyReport(workflow: spec.name, phase: phase, policies: outcomes,
                            verdict: check(spec, owner: owner, at: nowMs, phase: phase))
    }

    private func result(_ rule: PolicyRule, _ spec: WorkflowSpec, _ owner: String?, _ nowMs: Int64,
                        _ phase: PolicyPhase) -> RuleResult {
        guard rule.isChecked(in: phase) else { return .skipped("checked at exec only") }
        return rule.violation(spec, owner: owner, at: nowMs).map(RuleResult.failed) ?? .passed
    }

    private func defaultVerdict(_ name: String) -> PolicyVerdict {
        switch defaultDecision {
        case .allow: .allowed
        case .deny: .denied(PolicyDenial(policy: nil, rule: nil, detail: "no policy covers workflow \"\(name)\" and default is deny"))
        }
    }
}
