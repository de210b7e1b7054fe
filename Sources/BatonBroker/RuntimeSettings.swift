import BatonConfig

/// The settings a running broker can change without a restart (SIGHUP): its policies
/// and its rate limits. Everything else in a config file (endpoints, database, ...)
/// takes effect only at start.
public struct RuntimeSettings: Equatable, Sendable {
    public var policies: PolicySet
    public var limits: RateLimits

    public init(policies: PolicySet = .allowAll, limits: RateLimits = RateLimits()) {
        self.policies = policies
        self.limits = limits
    }

    /// The runtime part of a config file.
    public init(_ config: BrokerConfig) {
        self.init(policies: config.policySet, limits: config.limits)
    }
}
