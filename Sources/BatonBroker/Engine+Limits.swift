import BatonConfig
import BatonStore
import BatonWire
import DequeModule

/// Rate limits: a token bucket per job type (jobs over it wait, PENDING, with
/// `waiting_for`), per workflow name a bound on RUNNING workflows and on starts per
/// period (EXEC over it gets `rate_limited` with `retry_after_ms`), and per client
/// connection a bound on requests being processed (backpressure). Without limits
/// configured every check here is skipped.
extension Engine {
    /// Puts `new` in force. `recentStarts`: per limited name, the `started_at` times the
    /// store holds within that name's start window (so a restart or reload is never a
    /// free burst of starts). Buckets of job types already limited keep their level;
    /// new ones start empty.
    public mutating func useLimits(_ new: RateLimits, recentStarts: [String: [Int64]] = [:], now: Int64) {
        limits = new
        var kept: [String: TokenBucket] = [:]
        for (type, limit) in new.jobTypes {
            var bucket = buckets[type] ?? TokenBucket(limit, now: now)
            bucket.reconfigure(limit, now: now)
            kept[type] = bucket
        }
        buckets = kept
        startsByName = [:]
        for (name, limit) in new.workflows where limit.rate != nil {
            // Stored start times are wall-clock; the window runs on the engine's clock.
            startsByName[name] = Deque((recentStarts[name] ?? []).map(steady(fromWall:)).sorted())
        }
        countRunningByName()
        if new.clients == nil {
            clientRequests = [:]
            answeredAwaitingCommit = []
        }
    }

    /// Recounts RUNNING workflows of every limited name (after a restore or new limits).
    mutating func countRunningByName() {
        runningByName = [:]
        guard !limits.workflows.isEmpty else { return }
        for w in workflows.values where w.state == .running && limits.workflows[w.spec.name] != nil {
            runningByName[w.spec.name, default: 0] += 1
        }
    }

    // MARK: Per workflow name, at EXEC

    /// Why EXEC may not start a workflow of this name now, or nil.
    func startRefusal(_ name: String, now: Int64) -> WireError? {
        guard let limit = limits.workflows[name] else { return nil }
        if let refusal = runningRefusal(name) { return refusal }
        if let window = limit.rate, let starts = startsByName[name] {
            let recent = starts.filter { $0 > now - window.periodMs }
            if recent.count >= window.tokens, let oldest = recent.first {
                return .rateLimited("limits.workflows.\(name).rate: \(window.text) already started",
                                    retryAfterMs: oldest + window.periodMs - now)
            }
        }
        return nil
    }

    /// `rate_limited` when `max_running` workflows of this name already run.
    func runningRefusal(_ name: String) -> WireError? {
        guard let max = limits.workflows[name]?.maxRunning, runningByName[name, default: 0] >= max else { return nil }
        // When a slot frees is unknown: a heartbeat interval is a fair first retry.
        return .rateLimited("limits.workflows.\(name).max_running: \(max) already RUNNING", retryAfterMs: config.heartbeatMs)
    }

    /// Bookkeeping of a STOPPED workflow that runs again (not a new start).
    mutating func countContinue(_ name: String) {
        guard limits.workflows[name] != nil else { return }
        runningByName[name, default: 0] += 1
    }

    /// Bookkeeping of a workflow that starts RUNNING.
    mutating func countStart(_ name: String, now: Int64) {
        guard let limit = limits.workflows[name] else { return }
        runningByName[name, default: 0] += 1
        if let window = limit.rate {
            startsByName[name, default: []].append(now)
            while let first = startsByName[name]!.first, first <= now - window.periodMs { startsByName[name]!.removeFirst() }
        }
    }

    /// Bookkeeping of a workflow that leaves RUNNING.
    mutating func countStop(_ name: String) {
        guard !limits.workflows.isEmpty, let n = runningByName[name] else { return }
        runningByName[name] = n > 1 ? n - 1 : nil
    }

    // MARK: Per job type, at dispatch

    /// Takes a token for a job of `type`, if its type is limited; false when the bucket
    /// is empty (the job waits, and a timer wakes the engine at the next token).
    mutating func takeToken(_ type: String, now: Int64) -> Bool {
        // One lookup, then the bucket changed in place through its index (`values[i]`):
        // an optional chain (`buckets[type]?.take`) moved the bucket out of the table and
        // back, dearer in the profile than the two lookups it replaced.
        guard !buckets.isEmpty, let i = buckets.index(forKey: type) else { return true }
        if buckets.values[i].take(at: now) { return true }
        if bucketHeldSince[type] == nil { bucketHeldSince[type] = now }
        if bucketWakes.insert(type).inserted {
            timers.insert(.tokens(type: type), at: buckets.values[i].nextTokenAt(now))
        }
        return false
    }

    // MARK: LIMITS

    /// The LIMITS reply: every limit and stop in force with its live level (§4.3.9).
    func limitsReport(now: Int64) -> JSONValue {
        let types: [JSONValue] = buckets.keys.sorted().map { type in
            let bucket = buckets[type]!
            let tokens = bucket.available(at: now)
            var o: [String: JSONValue] = [
                "type": .string(type), "rate": .string(bucket.limit.rate.text), "burst": .int(Int64(bucket.limit.burst)),
                "tokens": .int(Int64(tokens)), "queued": .int(Int64(queues[type]?.count { queued.contains($0) } ?? 0)),
            ]
            if tokens == 0 { o["next_token_at"] = .string(Timestamp.format(ms: wall(bucket.nextTokenAt(now)))) }
            if let since = bucketHeldSince[type] { o["held_since"] = .string(Timestamp.format(ms: wall(since))) }
            return .object(o)
        }
        let names: [JSONValue] = limits.workflows.keys.sorted().map { name in
            let limit = limits.workflows[name]!
            var o: [String: JSONValue] = ["name": .string(name)]
            if let max = limit.maxRunning {
                o["max_running"] = .int(Int64(max))
                o["running"] = .int(Int64(runningByName[name, default: 0]))
            }
            if let window = limit.rate {
                let recent = (startsByName[name] ?? []).filter { $0 > now - window.periodMs }
                o["rate"] = .string(window.text)
                o["started_in_window"] = .int(Int64(recent.count))
                if recent.count >= window.tokens, let oldest = recent.first {
                    o["next_start_at"] = .string(Timestamp.format(ms: wall(oldest + window.periodMs)))
                }
            }
            return .object(o)
        }
        let stopRows: [JSONValue] = (stops.map { ($0.key, $0.value, "stop") } + fileStops.map { ($0.key, $0.value, "file") })
            .sorted { ($0.0, $0.2) < ($1.0, $1.2) }
            .map { name, stop, source in
                ["name": .string(name), "reason": .string(stop.reason), "at": .string(Timestamp.format(ms: stop.at)),
                 "source": .string(source)]
            }
        var body: [String: JSONValue] = ["job_types": .array(types), "workflows": .array(names), "stops": .array(stopRows)]
        if let max = limits.clients?.maxInFlight {
            body["clients"] = ["max_in_flight": .int(Int64(max)), "at_limit": .int(Int64(clientRequests.values.count { $0 >= max }))]
        }
        return .object(body)
    }

    // MARK: Per client connection

    /// Counts a request in; a refusal when the connection already has its limit of
    /// requests being processed (the refusal itself is answered at once).
    mutating func admitClientRequest(_ peer: PeerId) -> WireError? {
        guard let max = limits.clients?.maxInFlight else { return nil }
        let n = clientRequests[peer, default: 0]
        clientRequests[peer] = n + 1
        guard n < max else {
            return .rateLimited("limits.clients.max_in_flight: \(max) requests of this connection are being processed", retryAfterMs: 100)
        }
        return nil
    }

    /// Notes which connections a finished turn answers (replies and deferred reads).
    mutating func countAnswered(_ output: TurnOutput) {
        var answered: [PeerId: Int] = [:]
        for r in output.replies { answered[r.peer, default: 0] += 1 }
        for r in output.reads { answered[r.peer, default: 0] += 1 }
        answeredAwaitingCommit.append(answered)
    }

    /// The oldest turn is committed: its answers are out.
    mutating func clientRequestsAnswered() {
        guard let answered = answeredAwaitingCommit.popFirst() else { return }
        for (peer, n) in answered {
            let left = clientRequests[peer, default: 0] - n
            clientRequests[peer] = left > 0 ? left : nil
        }
    }
}

// MARK: SUBMITTED quota per owner

extension Engine {
    /// `rate_limited` when `owner` already has `maxSubmittedPerOwner` SUBMITTED workflows.
    func submittedQuotaRefusal(_ owner: String?) -> WireError? {
        let n = submittedByOwner[owner ?? "", default: 0]
        guard n >= config.maxSubmittedPerOwner else { return nil }
        let who = owner.map { "key \"\($0)\"" } ?? "this broker (plain mode: one quota for every caller)"
        return .rateLimited("\(who) has \(n) SUBMITTED workflows, the most allowed (--max-submitted): EXEC or CANCEL some, or let them expire", retryAfterMs: 1000)
    }

    /// A workflow of `owner` became SUBMITTED (+1) or left SUBMITTED (-1).
    mutating func countSubmitted(_ owner: String?, _ delta: Int) {
        // One lookup, the count changed in place through its index: a read and then a
        // write looked the owner up twice (~700 instructions, twice per workflow).
        let key = owner ?? ""
        if let i = submittedByOwner.index(forKey: key) {
            let n = submittedByOwner.values[i] + delta
            if n > 0 { submittedByOwner.values[i] = n } else { submittedByOwner.remove(at: i) }
        } else if delta > 0 {
            submittedByOwner[key] = delta
        }
    }
}
