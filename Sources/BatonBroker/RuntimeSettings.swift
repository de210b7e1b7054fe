import BatonConfig
import BatonKeys

/// The settings a running broker can change without a restart (SIGHUP): its policies,
/// its rate limits and its allowlists of keys. Everything else in a config file (endpoints, database, ...)
/// takes effect only at start.
public struct RuntimeSettings: Equatable, Sendable {
    public var policies: PolicySet
    public var limits: RateLimits
    /// The allowlists re-read from their directories (CURVE brokers); nil: unchanged.
    public var keys: KeyRing?

    public init(policies: PolicySet = .allowAll, limits: RateLimits = RateLimits(), keys: KeyRing? = nil) {
        self.policies = policies
        self.limits = limits
        self.keys = keys
    }

    /// The runtime part of a config file.
    public init(_ config: BrokerConfig) {
        self.init(policies: config.policySet, limits: config.limits)
    }
}
