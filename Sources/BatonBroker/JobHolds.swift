import BatonStore
import BatonWire

/// What a STATUS page of a workflow in memory says about its current block's jobs: what
/// holds a PENDING one back (`waiting_for`) and a RUNNING one's last PROGRESS.
///
/// A snapshot of the few engine fields it reads (copy-on-write: a retain each), so the
/// page writer's closure captures this and not the engine: a closure capturing the
/// engine had Swift copy all of it, every dictionary retained and released, for each
/// STATUS page (3,200 instructions per EXEC in the profile).
struct JobHolds {
    let queued: Set<JobKey>
    let workers: [PeerId: Engine.WorkerState]
    let buckets: [String: TokenBucket]
    let progressSeen: [JobKey: (details: JSONValue?, at: Int64)]
    /// The engine's clock (steady) and its offset to wall-clock time.
    let now: Int64
    let wallOffsetMs: Int64

    /// The last type a page asked `typeWait` of, and its answer: a page's queued jobs
    /// are mostly of one type, and each answer scans every worker's type set and the
    /// buckets (about 1,000 instructions a PENDING job on an EXEC's page).
    struct TypeWaitCache {
        var type: String?
        var wait: String?
    }

    /// What holds job (b, j) of `w` back, or nil when only its block's concurrency does
    /// (or it is about to be dispatched).
    func waitingFor(_ w: WorkflowRecord, block b: Int, job j: Int, cache: inout TypeWaitCache) -> String? {
        if let at = w.jobs[b][j].retryAt, at > now + wallOffsetMs { return "retry backoff until \(Timestamp.format(ms: at))" }
        guard queued.contains(JobKey(workflowId: w.id, block: b, job: j)) else { return nil }
        let type = w.spec.blocks[b].jobs[j].type
        if cache.type != type {
            cache.wait = typeWait(type)
            cache.type = type
        }
        return cache.wait
    }

    /// What holds a queued job of `type` back: no worker for it, or its empty bucket.
    func typeWait(_ type: String) -> String? {
        // Each worker's fields read in place by index: `workers.values.contains(where:)`
        // handed the closure a copy of every worker's state (retained, then released).
        var served = false
        var i = workers.startIndex
        while !served && i != workers.endIndex {
            served = workers.values[i].capacity > 0 && workers.values[i].types.contains(type)
            i = workers.index(after: i)
        }
        if !served {
            let draining = workers.values.count { $0.types.contains(type) }
            return "no worker for \(type)" + (draining > 0 ? " (\(draining) draining)" : "")
        }
        return tokenWait(type)
    }

    /// `waiting_for` of a queued job held by its type's empty bucket, or nil.
    func tokenWait(_ type: String) -> String? {
        guard let bucket = buckets[type], bucket.available(at: now) == 0 else { return nil }
        return "rate limit limits.job_types.\(type) (\(bucket.limit.rate.text)): next token at \(Timestamp.format(ms: bucket.nextTokenAt(now) + wallOffsetMs))"
    }

    /// The last PROGRESS of a running attempt, if any came.
    func progress(_ k: JobKey) -> (details: JSONValue?, at: Int64)? {
        progressSeen.isEmpty ? nil : progressSeen[k]
    }
}
