import BatonWire

/// One job's stored state. The job's spec lives in the workflow's spec; this is only
/// what changes as it runs.
public struct JobRecord: Equatable, Sendable {
    public var state: JobState
    /// The number of the current (or last) attempt; 0 before the first dispatch.
    public var attempt: Int
    /// A succeeded job's output, as its canonical text: stored and sent as it is (the
    /// broker never reads it), so a RESULT's output is not built into a tree (`JSONText`).
    public var outputText: JSONText?
    public var error: String?
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// When a job waiting for a retry may be dispatched again (backoff deadline).
    public var retryAt: Int64?
    /// Attempts an emergency stop ended: they do not count toward `max_attempts`.
    public var stoppedAttempts: Int

    public init(state: JobState = .pending, attempt: Int = 0, output: JSONValue? = nil, error: String? = nil,
                startedAt: Int64? = nil, finishedAt: Int64? = nil, retryAt: Int64? = nil, stoppedAttempts: Int = 0) {
        self.state = state
        self.attempt = attempt
        self.outputText = output.map(JSONText.init)
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.retryAt = retryAt
        self.stoppedAttempts = stoppedAttempts
    }

    /// The output as a value (parsed from, or written to, `outputText`).
    public var output: JSONValue? {
        get { outputText?.value }
        set { outputText = newValue.map(JSONText.init) }
    }

    /// Whether this is a job as a new workflow holds it, which is also how a job with no
    /// row in the store reads (`Store` writes a job's row from its first change on).
    public var isUntouched: Bool {
        state == .pending && attempt == 0 && outputText == nil && error == nil && startedAt == nil && finishedAt == nil
            && retryAt == nil && stoppedAttempts == 0
    }

    /// Attempts that count toward `max_attempts`.
    public var countedAttempts: Int { attempt - stoppedAttempts }

    /// The job as a dispatch of attempt `attempt` at `at` (wall-clock ms) leaves it. The
    /// one definition of a dispatch: the engine makes it, and the store makes it again
    /// from a `job.dispatched` event, as a dispatch writes no job row (`Store`).
    public mutating func dispatch(attempt: Int, at: Int64) {
        state = .running
        self.attempt = attempt
        startedAt = at
        finishedAt = nil
        retryAt = nil
    }

    /// The job as its running attempt's success at `at` leaves it: as `dispatch`, the
    /// one definition for the engine and for the store, which makes it again from a
    /// `job.succeeded` event and the output stored with it.
    public mutating func succeed(output: JSONText?, at: Int64) {
        state = .succeeded
        self.outputText = output
        error = nil
        finishedAt = at
    }
}

/// One workflow as stored: its spec, its state, and every job's state.
public struct WorkflowRecord: Equatable, Sendable {
    public var id: String
    public var spec: WorkflowSpec
    public var idempotencyKey: String?
    /// The name of the key that submitted it (spec §3.6); nil in plain mode.
    public var owner: String?
    public var state: WorkflowState
    public var reason: String?
    /// Index of the block that runs (or ran last). Blocks before it all succeeded.
    public var currentBlock: Int
    public var submittedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// When a SUBMITTED workflow expires if never EXEC'd.
    public var expiresAt: Int64?
    /// The seq of the newest event; the next event gets `lastEvent + 1`.
    public var lastEvent: Int64
    /// `jobs[block][job]`, same shape as `spec.blocks`.
    public var jobs: [[JobRecord]]

    public init(id: String, spec: WorkflowSpec, idempotencyKey: String? = nil, owner: String? = nil,
                state: WorkflowState = .submitted,
                reason: String? = nil, currentBlock: Int = 0, submittedAt: Int64, startedAt: Int64? = nil,
                finishedAt: Int64? = nil, expiresAt: Int64? = nil, lastEvent: Int64 = 0, jobs: [[JobRecord]]? = nil) {
        self.id = id
        self.spec = spec
        self.idempotencyKey = idempotencyKey
        self.owner = owner
        self.state = state
        self.reason = reason
        self.currentBlock = currentBlock
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.expiresAt = expiresAt
        self.lastEvent = lastEvent
        if let jobs {
            self.jobs = jobs
        } else {
            // A loop, not `spec.blocks.map`: map allocated its array through the generic
            // path, which looks the array's storage type up at run time (~370
            // instructions per SUBMIT).
            var fresh: [[JobRecord]] = []
            fresh.reserveCapacity(spec.blocks.count)
            for block in spec.blocks { fresh.append(Array(repeating: JobRecord(), count: block.jobs.count)) }
            self.jobs = fresh
        }
    }

    /// The job at (block, job), or nil when out of range.
    public func job(_ block: Int, _ job: Int) -> JobRecord? {
        guard block >= 0, block < jobs.count, job >= 0, job < jobs[block].count else { return nil }
        return jobs[block][job]
    }

    public static func jobId(_ workflowId: String, block: Int, job: Int) -> String {
        // Written byte by byte into the new string's own storage: appending the pieces
        // (each `String(Int)` a string of its own) was 2,400 instructions per job id in
        // the profile, and ids are built five times per job (dispatch, job events, STATUS).
        guard block >= 0, job >= 0, let made = workflowId.utf8.withContiguousStorageIfAvailable({ wf in
            String(unsafeUninitializedCapacity: wf.count + 2 + decimalDigits(block) + decimalDigits(job)) { out in
                var i = 0
                for c in wf { out[i] = c; i += 1 }
                out[i] = UInt8(ascii: "."); i += 1
                i = writeDecimal(block, into: out, at: i)
                out[i] = UInt8(ascii: "."); i += 1
                return writeDecimal(job, into: out, at: i)
            }
        }) else {
            return "\(workflowId).\(block).\(job)"
        }
        return made
    }

    private static func decimalDigits(_ v: Int) -> Int {
        var n = 1, v = v
        while v >= 10 { v /= 10; n += 1 }
        return n
    }

    /// Writes non-negative `v` at `at`; returns the index after it.
    private static func writeDecimal(_ v: Int, into out: UnsafeMutableBufferPointer<UInt8>, at: Int) -> Int {
        let end = at + decimalDigits(v)
        var v = v, i = end
        repeat {
            i -= 1
            out[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        } while v > 0
        return end
    }

    /// A block's state, derived from its jobs and the workflow's progress.
    public func blockState(_ b: Int) -> BlockState {
        // One pass, no array of the states (STATUS asks for every block's).
        var allSucceeded = true, anyFailed = false, anyCancelled = false
        for job in jobs[b] {
            allSucceeded = allSucceeded && job.state == .succeeded
            anyFailed = anyFailed || job.state == .failed
            anyCancelled = anyCancelled || job.state == .cancelled
        }
        if allSucceeded { return .succeeded }
        if anyFailed { return .failed }
        if state == .running && b == currentBlock { return .running }
        if anyCancelled { return .cancelled }
        return .pending
    }

    /// The STATUS reply body for this record.
    public var status: WorkflowStatus {
        let blocks = spec.blocks.enumerated().map { b, block in
            WorkflowStatus.Block(state: blockState(b), jobs: block.jobs.indices.map { j in statusJob(b, j) })
        }
        return WorkflowStatus(id: id, name: spec.name, state: state, reason: reason, blocks: blocks,
                              submittedAt: submittedAt, startedAt: startedAt, finishedAt: finishedAt, owner: owner)
    }

    /// Job (b, j) as STATUS shows it.
    public func statusJob(_ b: Int, _ j: Int) -> WorkflowStatus.Job {
        let r = jobs[b][j], job = spec.blocks[b].jobs[j]
        return WorkflowStatus.Job(
            jobId: Self.jobId(id, block: b, job: j), type: job.type, name: job.name, state: r.state,
            attempt: r.attempt, outputText: r.outputText, error: r.error, startedAt: r.startedAt, finishedAt: r.finishedAt)
    }

    /// `status.pageBytes(from:maxBytes:)`, with what `decorate` adds to each job on the
    /// page, without building the whole status first: only the page's jobs are written
    /// (every EXEC answers with a page; a stored 10,000-job workflow's first page holds
    /// about a tenth of its jobs), each straight from the record, no `Job` made.
    public func statusPageBytes(from jobsFrom: Int, maxBytes: Int = WorkflowStatus.maxPageBytes,
                                decorate: (Int, Int, JobState, inout StatusExtras) -> Void = { _, _, _, _ in }) -> [UInt8] {
        return WorkflowStatus.pageBytes(WorkflowSummary(self), blocks: spec.blocks.count, blockState: blockState,
                                        jobCount: { spec.blocks[$0].jobs.count }, from: jobsFrom, maxBytes: maxBytes) { b, j, out in
            let r = jobs[b][j]
            var extras = StatusExtras()
            decorate(b, j, r.state, &extras)
            let job = spec.blocks[b].jobs[j]
            WorkflowStatus.Job.writeJSON(attempt: r.attempt, error: r.error, finishedAt: r.finishedAt,
                                         jobId: .parts(workflowId: id, block: b, job: j), name: job.name,
                                         outputText: r.outputText, progress: extras.progress, progressAt: extras.progressAt,
                                         startedAt: r.startedAt, state: r.state, type: job.type, waitingFor: extras.waitingFor,
                                         into: &out)
        }
    }

    /// What the engine adds to a job on a STATUS page (in memory only).
    public struct StatusExtras {
        /// What holds a PENDING job back besides its block's concurrency.
        public var waitingFor: String?
        /// The running attempt's last PROGRESS details and when they came.
        public var progress: JSONValue?
        public var progressAt: Int64?

        public init() {}
    }

    /// The number of the workflow's next event, taken: `lastEvent` counts it.
    public mutating func takeEventSeq() -> Int64 {
        lastEvent += 1
        return lastEvent
    }

    /// The one-line summary LIST returns.
    public var summary: JSONValue { WorkflowSummary(self).json }
}

extension WorkflowSummary {
    /// The LIST row of a stored workflow.
    public init(_ r: WorkflowRecord) {
        self.init(id: r.id, name: r.spec.name, state: r.state, reason: r.reason,
                  submittedAt: r.submittedAt, startedAt: r.startedAt, finishedAt: r.finishedAt, owner: r.owner)
    }
}

/// A SUBMITTED workflow by id, owner and expiry only: what the broker restores of one
/// at start (`Store.loadSubmitted`), without its spec, so a start over many stays fast
/// and small: enough to check access,
/// count the quota and expire it. EXEC, CANCEL and expiry load it first.
public struct DormantWorkflow: Equatable, Sendable {
    public var id: String
    public var owner: String?
    public var expiresAt: Int64

    public init(id: String, owner: String?, expiresAt: Int64) {
        self.id = id
        self.owner = owner
        self.expiresAt = expiresAt
    }
}

/// Everything one broker turn changes, written in one transaction.
public struct WriteBatch: Sendable {
    /// Workflows created this turn (inserted with all their job rows).
    public var inserted: [WorkflowRecord] = []
    /// Workflow rows whose own columns changed (state, reason, block, times), written
    /// with the `lastEvent` of the moment; events alone do not make a row change (the
    /// store reads an unfinished workflow's newest event when it loads one).
    public var updated: [WorkflowRecord] = []
    /// Job rows that changed: (workflow id, block, job, new state).
    public var jobs: [(workflowId: String, block: Int, job: Int, record: JobRecord)] = []
    /// Events appended: (workflow id, event). A workflow's first event,
    /// `workflow.submitted` (seq 1, its name as its one field), need not be here: the
    /// store writes no row for it and makes it from the workflow's row when read
    /// (`FoldedEvents`); one given here is left out. Any other event numbered 1 is refused.
    public var events: [(workflowId: String, event: EventRow)] = []
    /// Emergency stops set (a record) or lifted (nil), by name, in order.
    public var stops: [(name: String, stop: StopRecord?)] = []

    public init() {}

    public var isEmpty: Bool { inserted.isEmpty && updated.isEmpty && jobs.isEmpty && events.isEmpty && stops.isEmpty }
}

/// An event as it is written: its fields already JSON (the broker builds them as
/// bytes, `EventFields`); read back as a `WorkflowEvent`.
public struct EventRow: Equatable, Sendable {
    public var seq: Int64
    public var at: Int64
    public var kind: EventKind
    public var fields: EventFields
    /// A `job.succeeded` event's job output: stored beside the event (its row's
    /// `outputs`), not among its fields (the output is in STATUS, not in the log, §7).
    public var output: JSONText?

    public init(seq: Int64, at: Int64, kind: EventKind, fields: EventFields = EventFields(), output: JSONText? = nil) {
        self.seq = seq
        self.at = at
        self.kind = kind
        self.fields = fields
        self.output = output
    }

    /// The row of an event built as a value (tests, tools).
    public init(_ e: WorkflowEvent) {
        self.init(seq: e.seq, at: e.at, kind: e.kind, fields: EventFields(e.fields))
    }
}

/// An emergency stop in force: of one workflow name, or of every name ("*").
public struct StopRecord: Equatable, Sendable {
    public var reason: String
    public var at: Int64

    public init(reason: String, at: Int64) {
        self.reason = reason
        self.at = at
    }
}
