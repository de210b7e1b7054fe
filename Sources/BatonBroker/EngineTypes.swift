import BatonStore
import BatonWire

/// A ROUTER routing id: who sent a message, and where its reply goes.
///
/// A struct, not the `[UInt8]` it holds, so that the broker's tables keyed by peer
/// (workers, queued replies, requests answered) hash it without SipHash: a `[UInt8]`
/// key hashed its length and bytes through `Hasher` at every lookup, ~370 instructions
/// with the comparison, six lookups per fan-out job in `scripts/profile`.
///
/// Ids libzmq makes are 5 bytes (its ROUTER names each peer `0x00` + a 32-bit counter),
/// so an id of at most 7 bytes is packed with its length into one word, one to one:
/// two short ids share a word, hence a hash, only when they are equal, and the word is
/// mixed with the table's per-process seed, as `WorkflowIdKey` does, to pick a bucket.
/// A peer may choose its id (`ZMQ_ROUTING_ID`, up to 255 bytes): a longer one goes
/// through `Hasher`, SipHash keyed per process, as every id did before, so ids a peer
/// chooses cannot be made to share a hash.
public struct PeerId: Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The routing id's bytes, the frame ZeroMQ routes by.
    public let bytes: [UInt8]
    /// The bytes (little-endian) and, in the top byte, the count, when there are at
    /// most 7; `Self.long` in the top byte otherwise.
    @usableFromInline let word: UInt64

    @usableFromInline static let long: UInt64 = 0xFF << 56

    @inlinable
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.count <= 7 {
            var w = UInt64(bytes.count) << 56
            for (i, b) in bytes.enumerated() { w |= UInt64(b) << (8 * UInt64(i)) }
            word = w
        } else {
            word = Self.long
        }
    }

    public init(arrayLiteral elements: UInt8...) { self.init(elements) }

    public var description: String { bytes.description }

    @inlinable
    public static func == (a: PeerId, b: PeerId) -> Bool {
        a.word == b.word && (a.word != long || a.bytes == b.bytes)
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(word)
        if word == Self.long { hasher.combine(bytes) }
    }

    /// A short id mixed with the table's seed (see above); a long one through SipHash.
    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        if word != Self.long { return WorkflowIdKey.mix(word ^ UInt64(UInt(bitPattern: seed))) }
        var hasher = Hasher()
        hasher.combine(seed)
        hasher.combine(bytes)
        return hasher.finalize()
    }
}

/// Identifies one job of one workflow.
struct JobKey: Hashable {
    var workflowId: String
    var block: Int
    var job: Int

    var jobId: String { WorkflowRecord.jobId(workflowId, block: block, job: job) }

    /// Parses `<workflow id>.<block>.<job>`: exactly two dots, two decimal numbers.
    ///
    /// Over UTF-8 bytes, not `split(separator:)`: splitting on a Character walks grapheme
    /// boundaries, and the profile showed it at 15k instructions per RESULT.
    init?(jobId: String) {
        var id = jobId
        // The workflow id is made from the buffer's bytes, inside `withUTF8`: from
        // `jobId.utf8.prefix(first)` it went through the generic slice path (~500
        // instructions a RESULT).
        let parsed: (String, Int, Int)? = id.withUTF8 { bytes in
            let dot = UInt8(ascii: ".")
            guard let second = bytes.lastIndex(of: dot), let first = bytes[..<second].lastIndex(of: dot),
                  !bytes[..<first].contains(dot),
                  let b = Self.decimal(bytes[(first + 1)..<second]), let j = Self.decimal(bytes[(second + 1)...])
            else { return nil }
            return (String(decoding: UnsafeBufferPointer(rebasing: bytes[..<first]), as: UTF8.self), b, j)
        }
        guard let (workflowId, b, j) = parsed else { return nil }
        self.init(workflowId: workflowId, block: b, job: j)
    }

    /// A non-negative decimal of 1...18 ASCII digits (no sign, as `Int(_:)` with `>= 0`
    /// accepted, less "+7": a job id the broker made never has a sign).
    private static func decimal(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var v = 0
        for c in digits {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + Int(c - UInt8(ascii: "0"))
        }
        return v
    }

    init(workflowId: String, block: Int, job: Int) {
        self.workflowId = workflowId
        self.block = block
        self.job = job
    }

    // The id hashed and compared as `WorkflowIdKey` does (its tail; byte equality), not
    // as a `String`: jobs are looked up by key several times per job.
    static func == (a: JobKey, b: JobKey) -> Bool {
        a.block == b.block && a.job == b.job && WorkflowIdKey.sameBytes(a.workflowId, b.workflowId)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(WorkflowIdKey.tail(of: workflowId))
        hasher.combine(block)
        hasher.combine(job)
    }

    /// Without SipHash, as `WorkflowIdKey._rawHashValue` (which says why): the id's tail
    /// mixed with the seed, then the block and job mixed in.
    func _rawHashValue(seed: Int) -> Int {
        let id = UInt64(bitPattern: Int64(WorkflowIdKey.mix(WorkflowIdKey.tail(of: workflowId) ^ UInt64(UInt(bitPattern: seed)))))
        let place = UInt64(truncatingIfNeeded: block) &<< 32 ^ UInt64(truncatingIfNeeded: job)
        return WorkflowIdKey.mix(id ^ place)
    }
}

/// Engine settings.
public struct EngineConfig: Sendable {
    /// Whether info-level notes are made at all: false when the log shows warnings and
    /// errors only. An info note (three per workflow: submitted, executed, finished) is
    /// text interpolated with a field dictionary, about 12,000 instructions per one-job
    /// workflow in the profile, for a line the logger then drops; and dropped after the
    /// log's rate limit had counted it against the lines that are shown.
    public var notesInfo = true
    /// Heartbeat interval both ways with workers; a worker silent for 3 intervals is lost.
    public var heartbeatMs: Int64 = 1000
    /// How long a SUBMITTED workflow waits for EXEC before it expires.
    public var ttlMs: Int64 = 86_400_000
    /// Events per EVENTS reply.
    public var watchPageSize = 500
    /// Long-polled WATCHes one connection may have parked at once; beyond it a WATCH is
    /// answered at once (a page, possibly empty) instead of waiting. 50,000 parked on one
    /// peer once stalled the loop for seconds when they were all answered together.
    public var maxParkedWatchesPerPeer = 64
    /// Parked WATCHes answered per turn at most; the rest go out in the next turns.
    public var maxWatchAnswersPerTurn = 1024
    /// SUBMITTED workflows (stored, never EXEC'd) one owner may have at once; SUBMIT
    /// beyond it is refused. In plain mode every caller shares one quota. Each one holds
    /// memory (about 1 KB) and start time until EXEC, CANCEL or its TTL: unbounded, a
    /// tool that only submits fills the broker (1,000,000 took 1.1 GB and a 57 s start).
    public var maxSubmittedPerOwner = 10_000
    /// The largest job `output` a RESULT may carry (bytes of its JSON text), told to
    /// workers in the HEARTBEAT that answers READY (`max_output_bytes`). A larger one
    /// fails the attempt, not retried: it would be as large the next time.
    public var maxOutputBytes = 1 << 20
    /// Whether a broken invariant (`Engine.invariantBroken`) stops the process. On in
    /// debug builds, so tests fail loudly; off in release builds, which log, count and
    /// take the documented fallback. Tests of the fallback turn it off.
    public var trapOnBrokenInvariant: Bool

    public init(heartbeatMs: Int64 = 1000, ttlMs: Int64 = 86_400_000) {
        self.heartbeatMs = heartbeatMs
        self.ttlMs = ttlMs
        #if DEBUG
        trapOnBrokenInvariant = true
        #else
        trapOnBrokenInvariant = false
        #endif
    }

    var workerLivenessMs: Int64 { heartbeatMs * 3 }
}

/// A read the server performs after the turn's commit, so it sees what the turn wrote
/// (and nothing a later turn wrote: the committer ends a group commit at such a turn).
/// Used for everything that is not in memory (finished workflows, event pages, lists).
public enum DeferredRead: Equatable, Sendable {
    /// Reply the STATUS page from job `jobsFrom` (spec §4.3.3), or ERROR not_found (also
    /// when `owner` does not admit the stored workflow's owner: ids do not leak between
    /// client keys).
    case status(peer: PeerId, tag: [UInt8], id: String, jobsFrom: Int = 0, owner: OwnerFilter = .any)
    /// Reply EVENTS with the page after `after`, or ERROR not_found (as for `status`).
    case events(peer: PeerId, tag: [UInt8], id: String, after: Int64, owner: OwnerFilter = .any)
    /// Reply LIST.
    case list(peer: PeerId, tag: [UInt8], query: ListRequest)
}

/// The store's answer to "which workflow holds this idempotency key?", asked by the
/// engine for a keyed SUBMIT whose key is not in memory (`TurnOutput.keyLookups`) and
/// handed back through `Engine.keysLookedUp`.
///
/// Also carries the answer to "load this dormant workflow" (`TurnOutput.workflowLoads`,
/// `isWorkflowLoad`, `key` is then the workflow id): the same trip, after the commit.
public struct KeyLookup: Sendable {
    public var key: String
    /// The stored workflow (nil: the key is free), or why the store could not be read.
    public var found: Result<WorkflowRecord?, WireError>
    public var isWorkflowLoad: Bool

    public init(key: String, found: Result<WorkflowRecord?, WireError>, isWorkflowLoad: Bool = false) {
        self.key = key
        self.found = found
        self.isWorkflowLoad = isWorkflowLoad
    }
}


/// A message for a client: reply command, the echoed tag, the body.
public struct ClientReply: Equatable, Sendable {
    public var peer: PeerId
    public var command: ReplyCommand
    public var tag: [UInt8]
    public var payload: Payload

    /// A reply body as a value, or already written: a STATUS is written straight to
    /// bytes (`WorkflowStatus.pageBytes`), its tree never built. An ID is kept as its
    /// three fields and written by the committer's thread with the turn's other replies
    /// (`encoded`): under a flood of SUBMITs the event loop is the bound, and the
    /// committer has room (~1.1k instructions per SUBMIT moved off the loop).
    public enum Payload: Sendable {
        case value(JSONValue)
        case encoded([UInt8])
        case id(IdReply)
    }

    public init(peer: PeerId, command: ReplyCommand, tag: [UInt8], body: JSONValue) {
        self.init(peer: peer, command: command, tag: tag, payload: .value(body))
    }

    public init(peer: PeerId, command: ReplyCommand, tag: [UInt8], payload: Payload) {
        self.peer = peer
        self.command = command
        self.tag = tag
        self.payload = payload
    }

    /// The body as a value; written bytes are parsed back (for tests and log lines, not
    /// the send path, which takes `bodyBytes`).
    public var body: JSONValue {
        switch payload {
        case .value(let v): v
        case .encoded(let bytes): (try? JSONParser.parse(bytes)) ?? .null
        case .id(let id): id.json
        }
    }

    /// This reply with its body written to bytes (the same reply).
    public var encoded: ClientReply {
        switch payload {
        case .encoded: self
        case .value, .id: ClientReply(peer: peer, command: command, tag: tag, payload: .encoded(bodyBytes))
        }
    }

    /// The body as sent.
    public var bodyBytes: [UInt8] {
        switch payload {
        case .value(let v): JSONWriter.bytes(v)
        case .encoded(let bytes): bytes
        case .id(let id): id.bytes
        }
    }

    /// Equal when they say the same: a written body equals the value it encodes.
    public static func == (a: ClientReply, b: ClientReply) -> Bool {
        a.peer == b.peer && a.command == b.command && a.tag == b.tag && a.body == b.body
    }
}

/// A message for a worker.
public struct WorkerSend: Equatable, Sendable {
    /// What is sent: a message as a value, or a JOB as its typed body or as a dispatch
    /// made it, written straight to bytes when encoded (`JobBody.bytes`,
    /// `JobDispatch.bytes`), its dictionary never built.
    public enum Content: Sendable {
        case message(WorkerFrames.Message)
        case job(JobBody)
        case dispatch(JobDispatch)
    }

    public var peer: PeerId
    public var content: Content
    /// The content already encoded, the peer's routing id first (the committer does it
    /// after the commit, off the event loop's thread); nil until then. Not part of
    /// equality: it says the same.
    public var frames: [[UInt8]]?

    public init(peer: PeerId, message: WorkerFrames.Message) {
        self.peer = peer
        self.content = .message(message)
    }

    public init(peer: PeerId, job: JobBody) {
        self.peer = peer
        self.content = .job(job)
    }

    public init(peer: PeerId, dispatch: JobDispatch) {
        self.peer = peer
        self.content = .dispatch(dispatch)
    }

    /// The message as a value (tests, logs; the send path takes `routedFrames`).
    public var message: WorkerFrames.Message {
        switch content {
        case .message(let m): m
        case .job(let j): WorkerFrames.Message(.job, j.body)
        case .dispatch(let d): WorkerFrames.Message(.job, d.body.body)
        }
    }

    /// The frames to send, the peer's routing id first.
    public var routedFrames: [[UInt8]] {
        if let frames { return frames }
        switch content {
        case .message(let m): return WorkerFrames.routed(to: peer.bytes, m)
        case .job(let j): return WorkerFrames.routed(to: peer.bytes, .job, bodyBytes: j.bytes)
        case .dispatch(let d): return WorkerFrames.routed(to: peer.bytes, .job, bodyBytes: d.bytes)
        }
    }

    /// Encodes the frames, once (the committer does, after the commit).
    public mutating func encode() {
        if frames == nil { frames = routedFrames }
    }

    public static func == (a: WorkerSend, b: WorkerSend) -> Bool { a.peer == b.peer && a.message == b.message }
}

/// A line for the broker's log.
public struct LogNote: Equatable, Sendable {
    public enum Level: Equatable, Sendable { case info, warning, error }
    public var level: Level
    public var text: String
    /// What the text names, for machines (`--log-format json` writes each as a field):
    /// `workflow_id`, `worker`. The text says the same for people.
    public var fields: [String: String] = [:]
}

/// Everything one turn of the engine decided: rows to commit, then messages to send and
/// reads to answer. The server commits `writes` before it sends anything.
public struct TurnOutput: Sendable {
    public var writes = WriteBatch()
    public var replies: [ClientReply] = []
    public var workerSends: [WorkerSend] = []
    public var reads: [DeferredRead] = []
    /// Idempotency keys to look up in the store after the commit; the answers go back
    /// to the engine (`keysLookedUp`), not to a client.
    public var keyLookups: [String] = []
    /// Dormant workflows to read from the store after the commit (answered like key
    /// lookups, with `isWorkflowLoad`).
    public var workflowLoads: [String] = []
    public var notes: [LogNote] = []
    /// STATS requests, answered when the turn is carried out with the server's figures
    /// added (`BrokerLoop.answerStats`). They write nothing.
    public var stats: [Engine.StatsRequest] = []
    /// BACKUP requests, handed to the backup thread when the turn is carried out (after
    /// its commit, so the copy holds everything the turn's replies promise).
    public var backups: [BackupJob] = []

    public init() {}
}
