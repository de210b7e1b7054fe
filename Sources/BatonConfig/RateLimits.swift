/// The `limits:` section: parsed and validated here, enforced by the broker.
public struct RateLimits: Equatable, Sendable {
    /// Token buckets per job type, global across workflows and workers.
    public var jobTypes: [String: JobTypeLimit] = [:]
    /// Per workflow name (exact): how many may run at once and how often one may start.
    public var workflows: [String: WorkflowLimit] = [:]
    public var clients: ClientLimit?

    public init(jobTypes: [String: JobTypeLimit] = [:], workflows: [String: WorkflowLimit] = [:], clients: ClientLimit? = nil) {
        self.jobTypes = jobTypes
        self.workflows = workflows
        self.clients = clients
    }

    /// How many limits the section sets: one per job type, per workflow name, and the
    /// client limit.
    public var count: Int { jobTypes.count + workflows.count + (clients == nil ? 0 : 1) }
}

/// A token bucket: `rate` refills it, `burst` is its capacity (default 1, so a tool
/// gets no burst unless the file grants one).
public struct JobTypeLimit: Equatable, Sendable {
    public var rate: Rate
    public var burst: Int

    public init(rate: Rate, burst: Int = 1) {
        self.rate = rate
        self.burst = burst
    }
}

/// At least one of the two is set.
public struct WorkflowLimit: Equatable, Sendable {
    /// Most RUNNING workflows of this name at once.
    public var maxRunning: Int?
    /// Most EXECs of this name per period.
    public var rate: Rate?

    public init(maxRunning: Int? = nil, rate: Rate? = nil) {
        self.maxRunning = maxRunning
        self.rate = rate
    }
}

public struct ClientLimit: Equatable, Sendable {
    /// Most requests of one client being processed at once (backpressure).
    public var maxInFlight: Int

    public init(maxInFlight: Int) { self.maxInFlight = maxInFlight }
}

extension RateLimits: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["job_types", "workflows", "clients"])
        self.init(
            jobTypes: try c.optional("job_types") ?? [:],
            workflows: try c.optional("workflows") ?? [:],
            clients: try c.optional("clients"))
    }
}

extension JobTypeLimit: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["rate", "burst"])
        self.init(rate: try c.required("rate"), burst: try c.positive("burst") ?? 1)
    }
}

extension WorkflowLimit: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["max_running", "rate"])
        self.init(maxRunning: try c.positive("max_running"), rate: try c.optional("rate"))
        guard maxRunning != nil || rate != nil else { throw invalid(decoder.codingPath, "set max_running, rate or both") }
    }
}

extension ClientLimit: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["max_in_flight"])
        guard let n = try c.positive("max_in_flight") else { throw invalid(c.path("max_in_flight"), "required") }
        self.init(maxInFlight: n)
    }
}

extension KeyedDecodingContainer where Key == ConfigKey {
    /// An optional integer that must be at least `minimum` when present.
    func positive(_ key: String, minimum: Int = 1) throws -> Int? {
        guard let n: Int = try optional(key) else { return nil }
        guard n >= minimum else { throw invalid(path(key), "must be at least \(minimum), got \(n)") }
        return n
    }
}
