/// The rate limits the engine enforces, as plain values (the broker fills them from the
/// config file's `limits:`; without one there are none and nothing is checked).
public struct EngineLimits: Equatable, Sendable {
    /// A token bucket: `tokens` per `periodMs` refill it, up to `burst`.
    public struct Bucket: Equatable, Sendable {
        public var tokens: Int
        public var periodMs: Int64
        public var burst: Int

        public init(tokens: Int, periodMs: Int64, burst: Int) {
            self.tokens = max(1, tokens)
            self.periodMs = max(1, periodMs)
            self.burst = max(1, burst)
        }

        /// Milliseconds per token, rounded up: never faster than configured.
        var intervalMs: Int64 { (periodMs + Int64(tokens) - 1) / Int64(tokens) }

        /// `10/min`-style, for messages.
        var text: String {
            let (n, unit): (Int64, String) = periodMs % 3_600_000 == 0 ? (periodMs / 3_600_000, "h")
                : periodMs % 60_000 == 0 ? (periodMs / 60_000, "min") : periodMs % 1000 == 0 ? (periodMs / 1000, "s") : (periodMs, "ms")
            return "\(tokens)/\(n == 1 ? "" : String(n))\(unit)"
        }
    }

    /// Limits on the workflows of one name.
    public struct NameLimit: Equatable, Sendable {
        /// Most RUNNING at once.
        public var maxRunning: Int?
        /// Most started (EXEC) in any window of `periodMs`.
        public var starts: Bucket?

        public init(maxRunning: Int? = nil, starts: Bucket? = nil) {
            self.maxRunning = maxRunning
            self.starts = starts
        }
    }

    /// Per job type, across every workflow and worker.
    public var jobTypes: [String: Bucket]
    /// Per workflow name (exact).
    public var workflows: [String: NameLimit]
    /// Most requests of one client connection being processed at once.
    public var maxInFlightPerClient: Int?

    public init(jobTypes: [String: Bucket] = [:], workflows: [String: NameLimit] = [:], maxInFlightPerClient: Int? = nil) {
        self.jobTypes = jobTypes
        self.workflows = workflows
        self.maxInFlightPerClient = maxInFlightPerClient
    }
}

/// A job type's token bucket.
///
/// Buckets start EMPTY — at broker start and when a limit is first configured — so a
/// restart (or a reload) is never a free burst: the first token comes one interval
/// later. Levels are not stored: an empty start is the safe side of losing them.
struct TokenBucket {
    var limit: EngineLimits.Bucket
    /// Whole tokens available.
    private(set) var tokens = 0
    /// The time up to which refills have been credited.
    private(set) var creditedTo: Int64

    init(_ limit: EngineLimits.Bucket, now: Int64) {
        self.limit = limit
        creditedTo = now
    }

    /// Tokens available at `now`, without taking one.
    func available(at now: Int64) -> Int {
        guard now > creditedTo else { return tokens }
        return min(limit.burst, tokens + Int(min((now - creditedTo) / limit.intervalMs, Int64(limit.burst))))
    }

    /// Takes a token if one is available at `now`.
    mutating func take(at now: Int64) -> Bool {
        refill(at: now)
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }

    /// When the next token comes (a full bucket: now).
    func nextTokenAt(_ now: Int64) -> Int64 {
        available(at: now) > 0 ? now : max(now, creditedTo + limit.intervalMs)
    }

    /// A changed limit keeps the level, cut to the new burst.
    mutating func reconfigure(_ new: EngineLimits.Bucket, now: Int64) {
        refill(at: now)
        limit = new
        tokens = min(tokens, new.burst)
    }

    private mutating func refill(at now: Int64) {
        guard now > creditedTo else { return }
        let earned = (now - creditedTo) / limit.intervalMs
        tokens = min(limit.burst, tokens + Int(min(earned, Int64(limit.burst))))
        // A full bucket earns nothing while full; otherwise keep the part-interval.
        creditedTo = tokens == limit.burst ? now : creditedTo + earned * limit.intervalMs
    }
}
