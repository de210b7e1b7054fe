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
///
/// Exact at any rate: refills are counted in token·milliseconds (`tokens` per
/// `periodMs` earns `tokens` units a millisecond, a token costs `periodMs` units), so a
/// rate of 5,000/s is 5,000/s, not one token per whole millisecond.
struct TokenBucket {
    var limit: EngineLimits.Bucket
    /// Whole tokens available.
    private(set) var tokens = 0
    /// The time up to which refills have been credited, and the part-token credit
    /// (token·ms, below `periodMs`) earned by then.
    private(set) var creditedTo: Int64
    private var carry: Int64 = 0

    init(_ limit: EngineLimits.Bucket, now: Int64) {
        self.limit = limit
        creditedTo = now
    }

    /// Tokens available at `now`, without taking one.
    func available(at now: Int64) -> Int {
        var copy = self
        copy.refill(at: now)
        return copy.tokens
    }

    /// Takes a token if one is available at `now`.
    mutating func take(at now: Int64) -> Bool {
        refill(at: now)
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }

    /// When the next token comes (now, when one is there).
    func nextTokenAt(_ now: Int64) -> Int64 {
        var copy = self
        copy.refill(at: now)
        guard copy.tokens == 0 else { return now }
        let missing = limit.periodMs - copy.carry  // token·ms still to earn
        let perMs = Int64(limit.tokens)
        return max(now, copy.creditedTo + (missing + perMs - 1) / perMs)
    }

    /// A changed limit keeps the level, cut to the new burst.
    mutating func reconfigure(_ new: EngineLimits.Bucket, now: Int64) {
        refill(at: now)
        limit = new
        tokens = min(tokens, new.burst)
        carry = min(carry, new.periodMs - 1)
    }

    private mutating func refill(at now: Int64) {
        guard now > creditedTo else { return }
        if tokens >= limit.burst {
            creditedTo = now  // a full bucket earns nothing while full
            carry = 0
            return
        }
        // Bounded so the product cannot overflow: no gap needs more than a full burst.
        let fillMs = (Int64(limit.burst) * limit.periodMs) / Int64(limit.tokens) + 1
        let units = min(now - creditedTo, fillMs) * Int64(limit.tokens) + carry
        tokens = min(limit.burst, tokens + Int(units / limit.periodMs))
        carry = tokens == limit.burst ? 0 : units % limit.periodMs
        creditedTo = now
    }
}
