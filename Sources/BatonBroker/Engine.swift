import BatonConfig
import BatonStore
import BatonWire
import DequeModule

/// The broker's state machine: `(state, event, now) -> (state, effects)`.
///
/// No sockets, no clock, no store: events come in through `handleClient`,
/// `handleWorker`, `keysLookedUp` and `tick`, and `finishTurn` hands back what the turn
/// decided as data (rows to write, replies, job dispatches, reads to answer after the
/// commit). Time is the `now` each call passes; randomness (workflow ids) comes from the
/// generator given at init, so tests seed both.
///
/// Memory holds every SUBMITTED and RUNNING workflow (the hot path reads nothing from
/// SQLite); finished workflows stay until the turn that finished them is committed,
/// then later reads go to the store as deferred reads. The one read a decision needs —
/// is this idempotency key already stored? — is deferred too: the SUBMIT is parked
/// until the answer comes back (`keysLookedUp`), and later requests from the same peer
/// wait behind it, so each peer's requests are decided in the order it sent them. A
/// Bloom filter of the stored keys (`KeyFilter`) spares that read for keys that are
/// certainly new, which is nearly every SUBMIT.
///
/// ## Workflows: state × event → action
///
/// | state      | SUBMIT, same key         | EXEC                        | CANCEL                      | TTL due    | block's last job SUCCEEDED     | a job FAILED for good |
/// |------------|--------------------------|-----------------------------|-----------------------------|------------|--------------------------------|-----------------------|
/// | (none)     | new → SUBMITTED, ID      | read store → STATUS / not_found | read store → STATUS / not_found | —     | —                              | —                     |
/// | SUBMITTED  | ID duplicate (or conflict) | → RUNNING, start block 0, STATUS | → CANCELLED, STATUS     | → EXPIRED  | —                              | —                     |
/// | RUNNING    | ID duplicate (or conflict) | STATUS (starts nothing)   | → CANCELLED: CANCEL each running attempt, STATUS | — | next block, or → SUCCEEDED | → FAILED             |
/// | final      | ID duplicate (or conflict) | STATUS                    | STATUS (changes nothing)    | —          | —                              | —                     |
///
/// Entering a final state ends the workflow (`finish`): running attempts get CANCEL,
/// every unfinished job becomes CANCELLED, and no later block starts.
///
/// ## Jobs of the current block: state × event → action
///
/// | state    | slot free (`concurrency`) | worker free        | RESULT ok, current attempt | attempt ended without success¹ | backoff passed | workflow ends |
/// |----------|---------------------------|--------------------|----------------------------|--------------------------------|----------------|---------------|
/// | PENDING  | queued for its type       | → RUNNING, attempt + 1, JOB | dropped (fenced)  | —                              | queued again   | → CANCELLED   |
/// | RUNNING  | —                         | —                  | → SUCCEEDED                | retryable and attempts left: → PENDING with backoff; else → FAILED | — | CANCEL to its worker, → CANCELLED |
/// | final    | —                         | —                  | dropped (fenced)           | dropped (fenced)               | —              | —             |
///
/// ¹ a failed RESULT, a timeout, a lost worker, or a broker restart while it ran; each
/// counts toward `max_attempts`. A RESULT is applied only to the job's current, running
/// attempt over the connection its JOB went to (the fencing token is `(connection,
/// job_id, attempt)`); anything else is dropped and logged.
///
/// Each event's handler switches over these states exhaustively (`exec`, `cancel`,
/// `applyResult`, `timerAction`), so a new state does not compile until every event
/// says what it does in it.
public struct Engine {
    public let config: EngineConfig
    var random: any RandomNumberGenerator

    /// Workflows in memory by id.
    var workflows = WorkflowIdMap<WorkflowRecord>()
    /// Idempotency key -> workflow id, for workflows in memory.
    var keys: [String: String] = [:]
    /// Dispatch bookkeeping of RUNNING workflows' current block.
    var progress = WorkflowIdMap<BlockProgress>()
    /// Ready jobs per job type, in the order they became ready.
    var queues: [String: Deque<JobKey>] = [:]
    /// Jobs in some queue (a job leaves the set when dispatched or invalidated).
    var queued: Set<JobKey> = []
    /// Connected workers by routing id.
    var workers: [PeerId: WorkerState] = [:]
    /// Running attempts: which worker has them.
    var assignments: [JobKey: Assignment] = [:]
    var timers = DeadlineHeap<Timer>()
    /// The heap's size after its last compaction (`compactTimersIfNeeded`).
    var timersAfterCompaction = 0
    /// Parked long-poll WATCHes by workflow id.
    var watchers = WorkflowIdMap<[Watcher]>()
    var nextWatcherToken: UInt64 = 0
    /// Parked WATCHes per connection (bounded by `maxParkedWatchesPerPeer`).
    var parkedWatches: [PeerId: Int] = [:]
    /// Woken WATCHes waiting for their turn to be answered (`maxWatchAnswersPerTurn`).
    var wokenWatches: Deque<DeferredRead> = []
    var lastHeartbeatAt: Int64 = 0
    /// The next worker's registration order.
    var nextWorkerOrder: UInt64 = 0

    /// Every idempotency key the store holds, as a Bloom filter (nil until the server
    /// gives it: then every key not in memory is read from the store).
    var storedKeys: KeyFilter?
    /// Peers whose keyed SUBMIT waits for the store's answer about its key.
    var parked: [PeerId: ParkedPeer] = [:]
    /// Keys being read from the store -> the peers waiting for the answer, in the order
    /// they asked. One read per key however many peers wait for it.
    var keyReads: [String: [PeerId]] = [:]
    /// SUBMITTED workflows restored without their specs, by id (see `DormantWorkflow`).
    var dormant = WorkflowIdMap<DormantWorkflow>()
    /// Dormant workflows being loaded, with the peers parked on each.
    var loadReads = WorkflowIdMap<[PeerId]>()

    /// Emergency stops in force, by workflow name ("*": every name). Stored.
    var stops: [String: StopRecord] = [:]
    /// Stops the emergency stop file says (not stored: the file is their truth, read
    /// again at start). They cover names like `stops`; RESUME does not lift them.
    var fileStops: [String: StopRecord] = [:]
    /// The policies SUBMIT and EXEC are checked against (allow-all without a config).
    var policies = PolicySet.allowAll
    /// Which policies cover each workflow name seen (`PolicySet.covering`), reset when
    /// the policies change; bounded, since names come from clients.
    var policiesCovering: [String: [Int]] = [:]
    /// Workflows submitted in this process that passed every rule but the time-dependent
    /// ones (`window`) under the policies in force: their EXEC checks only those, since
    /// the rest read nothing but the spec and the owner, which EXEC does not change.
    /// Emptied when the policies change; an EXEC or the workflow's end removes its id.
    var passedSpecRules = WorkflowIdSet()
    // Rate limits (Engine+Limits.swift); all empty without a config.
    var limits = RateLimits()
    /// Token buckets of the limited job types.
    var buckets: [String: TokenBucket] = [:]
    /// Job types with a `.tokens` timer set (one at a time per type).
    var bucketWakes: Set<String> = []
    /// Since when each job type's empty bucket has held jobs back (cleared when its
    /// queue empties), for LIMITS.
    var bucketHeldSince: [String: Int64] = [:]
    /// Job types with queued jobs that no connected worker serves, already logged: the
    /// log says so once per type, until a worker of that type joins.
    var unservedTypesLogged: Set<String> = []
    /// Running attempts with a `heartbeat_timeout_ms`: when each was last heard of
    /// (dispatch or PROGRESS). Cleared when the attempt ends.
    var lastBeat: [JobKey: Int64] = [:]
    /// The last PROGRESS details of running attempts, for STATUS (memory only).
    var progressSeen: [JobKey: (details: JSONValue?, at: Int64)] = [:]
    /// When each running attempt's last `job.progress` event was written: at most one
    /// every `progressEventEveryMs`, so a chatty worker does not flood the event log.
    var progressEventAt: [JobKey: Int64] = [:]
    static let progressEventEveryMs: Int64 = 5000
    /// RUNNING workflows per limited name.
    var runningByName: [String: Int] = [:]
    /// Start times within the window, per name with a start rate, oldest first.
    var startsByName: [String: Deque<Int64>] = [:]
    /// Requests received and not yet answered, per client connection (with a limit).
    var clientRequests: [PeerId: Int] = [:]
    /// SUBMITTED workflows per owner ("" in plain mode), for `maxSubmittedPerOwner`.
    var submittedByOwner: [String: Int] = [:]
    /// Requests each turn not yet committed answered, per connection, oldest turn first.
    var answeredAwaitingCommit: Deque<[PeerId: Int]> = []

    // Per-turn bookkeeping.
    var out = TurnOutput()
    var insertedIds: [String] = []
    var insertedSet = WorkflowIdSet()
    var dirtyWorkflows = WorkflowIdSet()
    /// The last id `markDirty` inserted this turn: a workflow's own changes come in runs
    /// (its start, then its first block), and a repeat skips hashing the id again.
    var lastDirty: String?
    var dirtyJobs: Set<JobKey> = []
    var dirtyJobOrder: [JobKey] = []
    var finishedThisTurn: [String] = []
    /// Workflows finished by each turn handed out by `finishTurn` and not yet reported
    /// committed, oldest turn first. They stay in memory until `turnCommitted`: the
    /// store may not have them yet (the server commits while the next turn runs).
    var finishedAwaitingCommit: Deque<[String]> = []
    /// How many broken invariants the release-build fallback has absorbed (see
    /// `invariantBroken`); a test reads it, and so could a metric.
    public private(set) var brokenInvariants = 0
    /// The wall clock minus the engine's clock, in ms, as the loop last saw them (see
    /// "Time" below). 0 until the wall clock is stepped after the start.
    var wallOffsetMs: Int64 = 0
    /// What the engine has done since start, for STATS (`EngineCounters`).
    var counters = EngineCounters()

    /// `random` makes workflow ids (ULIDs); tests pass a seeded generator.
    public init(config: EngineConfig, random: any RandomNumberGenerator = SystemRandomNumberGenerator()) {
        self.config = config
        self.random = random
    }

    // MARK: Runtime types

    struct BlockProgress {
        /// Jobs of the current block queued or running (what `concurrency` bounds).
        var active = 0
        /// Next job index never yet released.
        var cursor = 0
        /// Retry jobs whose backoff has passed, waiting for a slot.
        var retryReady: Deque<Int> = []
        /// Jobs of the current block not yet SUCCEEDED.
        var unfinished = 0
    }

    struct WorkerState {
        var name: String
        var types: Set<String>
        var capacity: Int
        var running: Set<JobKey> = []
        var lastSeen: Int64
        /// When its first READY was registered (for STATS).
        var connectedAt: Int64
        /// Registration order (never reused): ties of load go to the oldest worker. Not
        /// a timestamp: two READYs in the same millisecond would tie again.
        var order: UInt64

        /// Counts `k` as running here and returns the worker's name: what a dispatch
        /// changes and reads of it, in one access (`workers.values[i].takeJob`).
        mutating func takeJob(_ k: JobKey) -> String {
            running.insert(k)
            return name
        }
    }

    struct Assignment {
        var worker: PeerId
        var attempt: Int
    }

    enum Timer {
        case expire(String)
        case retry(JobKey, attempt: Int)
        case timeout(JobKey, attempt: Int)
        /// Checks an attempt's PROGRESS against its `heartbeat_timeout_ms`.
        case heartbeat(JobKey, attempt: Int)
        case watch(workflowId: String, token: UInt64)
        /// When a job type's empty bucket gets its next token.
        case tokens(type: String)
    }

    struct Watcher {
        var token: UInt64
        var peer: PeerId
        var tag: [UInt8]
        var after: Int64
    }

    /// A peer's keyed SUBMIT waiting for its key's read, and what the peer sent after it.
    struct ParkedPeer {
        var tag: [UInt8]
        /// What it waits on: the SUBMIT whose key is being read, or a request naming a
        /// dormant workflow being loaded (decided again once it is in memory).
        var submit: SubmitRequest?
        var request: ClientFrames.Request? = nil
        /// The caller of the SUBMIT and of every request behind it (one connection, one key).
        var caller: Caller
        /// Decided in order once the SUBMIT is.
        var behind: Deque<ClientFrames.Request> = []
    }

    // MARK: Turn boundaries

    /// The oldest turn handed out by `finishTurn` is committed: workflows it finished
    /// leave memory (later reads of them go to the store). Call once per `finishTurn`,
    /// in order, unless a `restore` replaces the state first.
    public mutating func turnCommitted() {
        if limits.clients != nil { clientRequestsAnswered() }
        for id in finishedAwaitingCommit.popFirst() ?? [] {
            // Read in place (`peek`), then removed: not copied first only to be dropped.
            if let (isFinal, key) = workflows.peek(id, { ($0.state.isFinal, $0.idempotencyKey) }), isFinal {
                workflows[id] = nil
                if let k = key, keys[k] == id { keys[k] = nil }
                if !passedSpecRules.isEmpty { _ = passedSpecRules.remove(id) }  // expired or cancelled before EXEC
                for parked in watchers.removeValue(forKey: id) ?? [] { unparkWatch(parked.peer) }
            }
        }
    }

    /// Ends a turn: dispatches what can run, then returns and clears the turn's output.
    public mutating func finishTurn(now: Int64) -> TurnOutput {
        dispatchReady(now: now)
        answerWokenWatches()
        compactTimersIfNeeded()
        for id in insertedIds {
            if let w = workflows[id] { out.writes.inserted.append(w) }
        }
        for id in dirtyWorkflows where !insertedSet.contains(id) {
            if let w = workflows[id] { out.writes.updated.append(w) }
        }
        for k in dirtyJobOrder where !insertedSet.contains(k.workflowId) {
            if let w = workflows[k.workflowId] {
                out.writes.jobs.append((k.workflowId, k.block, k.job, w.jobs[k.block][k.job]))
            }
        }
        finishedAwaitingCommit.append(finishedThisTurn)
        finishedThisTurn = []
        if limits.clients != nil { countAnswered(out) }
        let result = out
        out = TurnOutput()
        Self.empty(&insertedIds)
        Self.empty(&insertedSet)
        Self.empty(&dirtyWorkflows)
        lastDirty = nil
        Self.empty(&dirtyJobs)
        Self.empty(&dirtyJobOrder)
        return result
    }

    /// Empties a turn's set, keeping its storage when small: emptied to capacity 0, it
    /// regrew every turn (1, 2, 4, 8... each growth rehashing every member), about a
    /// third of `markDirty`'s cost. A burst's large table is dropped instead, since
    /// iterating a set visits every bucket, full or not.
    private static func empty<T>(_ set: inout Set<T>) {
        if set.capacity <= keptTurnCapacity { set.removeAll(keepingCapacity: true) } else { set = [] }
    }

    private static func empty(_ set: inout WorkflowIdSet) {
        if set.capacity <= keptTurnCapacity { set.removeAll(keepingCapacity: true) } else { set = WorkflowIdSet() }
    }

    private static func empty<T>(_ array: inout [T]) {
        if array.capacity <= keptTurnCapacity { array.removeAll(keepingCapacity: true) } else { array = [] }
    }

    static let keptTurnCapacity = 1024

    /// The earliest time the engine wants `tick` called.
    public func nextDeadline() -> Int64 {  // (token wake-ups are timers too)
        if !wokenWatches.isEmpty { return 0 }  // answers left for the next turn: now
        let hb = lastHeartbeatAt + config.heartbeatMs
        return min(timers.earliest ?? hb, hb)
    }

    // MARK: Broken invariants

    /// A state the engine's own rules make impossible was reached (a bug). Debug builds
    /// (and so the test suite) stop here, loudly; release builds log it, count it, and
    /// the caller takes its documented fallback, so one bad workflow does not take the
    /// broker and every other workflow down with it.
    mutating func invariantBroken(_ what: String) {
        brokenInvariants += 1
        note("internal error (a bug; please report it): \(what)", .error)
        if config.trapOnBrokenInvariant { assertionFailure(what) }
    }

    // MARK: Effects helpers

    /// Runs `body` on the workflow in memory, in place: one hash lookup of `id`, and no
    /// copy of its job arrays (`workflows[id]!.x = ...` repeated costs a lookup each;
    /// the engine does this several times per event, the profile's top String hashing).
    /// Nil when the workflow is not in memory.
    ///
    /// Through `WorkflowIdMap.update` (the dictionary's index and `values`), not
    /// `workflows[id]` as an inout Optional: testing that Optional (`!= nil`) and
    /// unwrapping it copied the whole record and destroyed the copy, twice per event
    /// (2.7k instructions each time).
    @inline(__always) @discardableResult
    mutating func updateWorkflow<T>(_ id: String, _ body: (inout WorkflowRecord) -> T) -> T? {
        workflows.update(id, body)
    }

    mutating func markDirty(_ id: String) {
        if let last = lastDirty, WorkflowIdKey.sameBytes(id, last) { return }  // ids compare by bytes
        dirtyWorkflows.insert(id)
        lastDirty = id
    }

    mutating func markJobDirty(_ k: JobKey) {
        if dirtyJobs.insert(k).inserted { dirtyJobOrder.append(k) }
    }

    mutating func reply(_ peer: PeerId, _ command: ReplyCommand, _ tag: [UInt8], _ body: JSONValue) {
        out.replies.append(ClientReply(peer: peer, command: command, tag: tag, body: body))
    }

    mutating func reply(_ peer: PeerId, _ command: ReplyCommand, _ tag: [UInt8], _ payload: ClientReply.Payload) {
        out.replies.append(ClientReply(peer: peer, command: command, tag: tag, payload: payload))
    }

    mutating func replyError(_ peer: PeerId, _ tag: [UInt8], _ error: WireError) {
        reply(peer, .error, tag, error.body)
    }

    mutating func send(_ peer: PeerId, _ command: WorkerCommand, _ body: [String: JSONValue] = [:]) {
        out.workerSends.append(WorkerSend(peer: peer, message: .init(command, body)))
    }

    /// A line for the log, kept only when the log shows `level` (`config.notesInfo`).
    /// The lines made for every workflow check `notesInfo` first, so that their text is
    /// not even built.
    mutating func note(_ text: String, _ level: LogNote.Level = .info, fields: [String: String] = [:]) {
        if level == .info && !config.notesInfo { return }
        out.notes.append(LogNote(level: level, text: text, fields: fields))
    }

    /// Appends an event to a workflow's log and wakes its parked watchers.
    mutating func emit(_ id: String, _ kind: EventKind, at now: Int64, _ fields: EventFields = EventFields(),
                       output: JSONText? = nil) {
        guard let seq = updateWorkflow(id, { $0.takeEventSeq() }) else { return }
        emit(id, kind, seq: seq, at: now, fields, output: output)
    }

    /// `emit` with the event's number already taken (`WorkflowRecord.takeEventSeq`) by
    /// the caller's own update of the workflow, just before: one lookup of the workflow
    /// less (~340 instructions) for the events that follow a change of its record
    /// (a dispatch, a success, a start, a finish). Nothing may emit for the workflow in
    /// between, or the numbers would go out of order.
    mutating func emit(_ id: String, _ kind: EventKind, seq: Int64, at now: Int64, _ fields: EventFields = EventFields(),
                       output: JSONText? = nil) {
        // The event alone does not make the workflow's row dirty: its `last_event` column
        // is written with the row's own columns (state, block, times; their changes call
        // `markDirty`), and the store reads an unfinished workflow's newest event when it
        // loads one. A dispatch or a job's result cost a workflow-row UPDATE each before
        // (17k instructions; 0.75 per one-job workflow under load).
        out.writes.events.append((id, EventRow(seq: seq, at: wall(now), kind: kind, fields: fields, output: output)))
        if !watchers.isEmpty, let parked = watchers.removeValue(forKey: id) {
            for w in parked {
                unparkWatch(w.peer)
                wokenWatches.append(.events(peer: w.peer, tag: w.tag, id: id, after: w.after))
            }
        }
    }

    mutating func unparkWatch(_ peer: PeerId) {
        let n = parkedWatches[peer, default: 1] - 1
        parkedWatches[peer] = n > 0 ? n : nil
    }

    /// Hands at most `maxWatchAnswersPerTurn` woken WATCHes to this turn's reads.
    mutating func answerWokenWatches() {
        for _ in 0..<min(wokenWatches.count, config.maxWatchAnswersPerTurn) {
            out.reads.append(wokenWatches.removeFirst())
        }
    }

    // MARK: Time
    //
    // `now`, everywhere in the engine, is a steady clock: monotonic milliseconds that the
    // server anchors to the wall clock at start (`EngineClock`). Every interval runs on
    // it (heartbeats, liveness, timeouts, long-poll waits, backoff and TTL timers, token
    // buckets, start windows), so stepping the wall clock neither loses a worker nor
    // fires a timeout early. What people see and what outlives the process is wall-clock
    // time, converted at the boundary: timestamps in records, events and replies, stored
    // deadlines (`expires_at`, `retry_at`), workflow ids, policy time windows. Stored
    // deadlines are turned back into steady time when they are read (restore, loads).

    /// The loop tells the engine the wall clock each turn.
    ///
    /// The two clocks are read one after the other and each is cut to whole ms, so the
    /// offset wobbles by a millisecond from turn to turn with no step at all. Moves of
    /// that size are ignored, so that a time shown twice (a bucket's `next_token_at`)
    /// reads the same twice; a step or the slow slew of NTP is followed once it passes
    /// `Self.offsetTolerance`.
    public mutating func observeWallClock(_ wallMs: Int64, at now: Int64) {
        let offset = wallMs - now
        if abs(offset - wallOffsetMs) > Self.offsetTolerance { wallOffsetMs = offset }
    }

    /// The largest move of the wall-clock offset taken for rounding rather than a step.
    static let offsetTolerance: Int64 = 2

    /// Wall-clock time of the engine's instant `t`: for timestamps and stored deadlines.
    func wall(_ t: Int64) -> Int64 { t + wallOffsetMs }

    /// The engine's instant of a stored wall-clock time (a deadline read back).
    func steady(fromWall w: Int64) -> Int64 { w - wallOffsetMs }

    // MARK: Introspection (tests, metrics)

    public var workflowsInMemory: Int { workflows.count }
    public var connectedWorkers: Int { workers.count }
    public var runningAttempts: Int { assignments.count }
    /// Peers with a request waiting for an idempotency-key read.
    public var parkedPeers: Int { parked.count }
    /// Timers held, stale ones included until the next compaction.
    public var timersHeld: Int { timers.count }
    public func record(_ id: String) -> WorkflowRecord? { workflows[id] }
}
