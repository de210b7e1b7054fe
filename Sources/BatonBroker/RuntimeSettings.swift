import BatonConfig

/// The settings a running broker can change without a restart (SIGHUP): its policies
/// and its rate limits. Everything else in a config file (endpoints, database, ...)
/// takes effect only at start.
public struct RuntimeSettings: Equatable, Sendable {
    public var policies: PolicySet
    public var limits: EngineLimits

    public init(policies: PolicySet = .allowAll, limits: EngineLimits = EngineLimits()) {
        self.policies = policies
        self.limits = limits
    }

    /// The runtime part of a config file.
    public init(_ config: BrokerConfig) {
        self.init(policies: config.policySet, limits: EngineLimits(config.limits))
    }
}

extension EngineLimits {
    /// The config file's `limits:` section as the engine enforces it.
    public init(_ limits: RateLimits) {
        self.init(
            jobTypes: limits.jobTypes.mapValues { Bucket(tokens: $0.rate.tokens, periodMs: $0.rate.periodMs, burst: $0.burst) },
            workflows: limits.workflows.mapValues { w in
                NameLimit(maxRunning: w.maxRunning,
                          starts: w.rate.map { Bucket(tokens: $0.tokens, periodMs: $0.periodMs, burst: $0.tokens) })
            },
            maxInFlightPerClient: limits.clients?.maxInFlight)
    }
}
