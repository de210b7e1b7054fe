import BatonConfig

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
    var limit: JobTypeLimit
    /// Whole tokens available.
    private(set) var tokens = 0
    /// The time up to which refills have been credited, and the part-token credit
    /// (token·ms, below `periodMs`) earned by then.
    private(set) var creditedTo: Int64
    private var carry: Int64 = 0

    init(_ limit: JobTypeLimit, now: Int64) {
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
        let missing = periodMs - copy.carry  // token·ms still to earn
        let perMs = Int64(tokensPerPeriod)
        return max(now, copy.creditedTo + (missing + perMs - 1) / perMs)
    }

    /// A changed limit keeps the level, cut to the new burst.
    mutating func reconfigure(_ new: JobTypeLimit, now: Int64) {
        refill(at: now)
        limit = new
        tokens = min(tokens, max(1, new.burst))
        carry = min(carry, max(1, new.rate.periodMs) - 1)
    }

    // The limit's numbers, at least 1 each (the config refuses less; a division by zero
    // must not be one edit away).
    private var tokensPerPeriod: Int { max(1, limit.rate.tokens) }
    private var periodMs: Int64 { max(1, limit.rate.periodMs) }
    private var burst: Int { max(1, limit.burst) }

    private mutating func refill(at now: Int64) {
        guard now > creditedTo else { return }
        if tokens >= burst {
            creditedTo = now  // a full bucket earns nothing while full
            carry = 0
            return
        }
        // Bounded so the product cannot overflow: no gap needs more than a full burst.
        let fillMs = (Int64(burst) * periodMs) / Int64(tokensPerPeriod) + 1
        let units = min(now - creditedTo, fillMs) * Int64(tokensPerPeriod) + carry
        tokens = min(burst, tokens + Int(units / periodMs))
        carry = tokens == burst ? 0 : units % periodMs
        creditedTo = now
    }
}
