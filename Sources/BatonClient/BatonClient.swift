import BatonWire
import ZeroMQ

/// A Baton client over a DEALER socket, with zguide's "Lazy Pirate" retries: a request
/// that gets no reply within `timeoutMs` is sent again on a fresh socket, up to
/// `attempts` times. That is safe because every request is idempotent: SUBMIT always
/// carries an idempotency key (one is generated when the caller gives none), and EXEC,
/// STATUS, WATCH, CANCEL, LIST and PING change nothing when repeated.
///
/// `run`, `resume` and `watch(_:after:waitMs:onEvent:)` (BatonClient+Handshake.swift)
/// carry out the whole journaled handshake of spec §10.1 on top of these requests.
///
/// Not thread-safe: one client per thread (it owns a socket).
public final class BatonClient {
    public let endpoint: String
    /// CURVE: the broker's public key and this client's key pair (nil: plain TCP).
    public let curve: CurveClientKeys?
    public var timeoutMs: Int
    public var attempts: Int
    private let context: Context
    private var socket: Socket?
    private var random = SystemRandomNumberGenerator()

    public init(endpoint: String, timeoutMs: Int = 5000, attempts: Int = 3, context: Context? = nil,
                curve: CurveClientKeys? = nil) throws {
        self.endpoint = endpoint
        self.curve = curve
        self.timeoutMs = timeoutMs
        self.attempts = max(1, attempts)
        if let context {
            self.context = context
        } else {
            do throws(ZMQError) {
                self.context = try Context()
            } catch {
                throw ClientError.socket(error)
            }
        }
    }

    deinit { socket?.close(linger: 0) }

    public func close() {
        socket?.close(linger: 0)
        socket = nil
    }

    // MARK: Commands

    public struct Submitted: Equatable, Sendable {
        public var id: String
        public var state: WorkflowState
        public var duplicate: Bool
    }

    /// SUBMIT: stores the workflow; nothing runs until `exec`.
    public func submit(_ spec: WorkflowSpec, idempotencyKey: String? = nil) throws -> Submitted {
        let key = idempotencyKey ?? "auto-\(randomHex(16))"
        let reply = try request(.submit, SubmitRequest(workflow: spec, idempotencyKey: key).body, expect: .id)
        guard let id = reply["id"]?.stringValue, let s = reply["state"]?.stringValue, let state = WorkflowState(rawValue: s) else {
            throw ClientError.badReply("ID without id or state")
        }
        return Submitted(id: id, state: state, duplicate: reply["duplicate"]?.boolValue ?? false)
    }

    /// EXEC: starts a SUBMITTED workflow; on any other state returns it unchanged. The
    /// whole STATUS: the reply's first page, and the others read with STATUS.
    public func exec(_ id: String) throws -> WorkflowStatus {
        try wholeStatus(firstPage: request(.exec, WorkflowRef(id: id).body, expect: .status))
    }

    /// STATUS: the whole workflow, every page read (spec §4.3.3). The workflow fields and
    /// block states are those of the last page read.
    public func status(_ id: String) throws -> WorkflowStatus {
        try wholeStatus(firstPage: request(.status, StatusRequest(id: id).body, expect: .status))
    }

    /// CANCEL; returns the whole STATUS, like `exec`.
    public func cancel(_ id: String) throws -> WorkflowStatus {
        try wholeStatus(firstPage: request(.cancel, WorkflowRef(id: id).body, expect: .status))
    }

    /// One STATUS page (spec §4.3.3): the jobs from `jobsFrom` on (spec order, across
    /// blocks), at most 256 KiB of them; `next` is the `jobsFrom` of the following page
    /// (nil on the last).
    public struct StatusPage: Sendable {
        public var status: WorkflowStatus
        public var next: Int?
    }

    /// STATUS: one page of the workflow's jobs.
    public func statusPage(_ id: String, jobsFrom: Int = 0) throws -> StatusPage {
        try page(from: request(.status, StatusRequest(id: id, jobsFrom: jobsFrom).body, expect: .status))
    }

    public struct EventPage: Sendable {
        public var events: [WorkflowEvent]
        public var state: WorkflowState
    }

    /// WATCH: the events after `after`, waiting up to `waitMs` for the first one.
    public func watch(_ id: String, after: Int64, waitMs: Int64 = 0) throws -> EventPage {
        // A long-poll must not be mistaken for a lost request.
        let reply = try request(.watch, WatchRequest(id: id, after: after, waitMs: waitMs).body, expect: .events,
                                extraWaitMs: Int(waitMs))
        guard let s = reply["state"]?.stringValue, let state = WorkflowState(rawValue: s) else {
            throw ClientError.badReply("EVENTS without state")
        }
        var events: [WorkflowEvent] = []
        for e in reply["events"]?.arrayValue ?? [] {
            guard let o = e.objectValue else { throw ClientError.badReply("event is not an object") }
            do { events.append(try WorkflowEvent(json: o)) } catch { throw ClientError.badReply(error.message) }
        }
        return EventPage(events: events, state: state)
    }

    /// One LIST page, newest first; `next` is the `before` cursor of the following page
    /// (nil on the last one).
    public struct ListPage: Sendable {
        public var workflows: [WorkflowSummary]
        public var next: String?
    }

    /// LIST: one page of workflow summaries matching `query`.
    public func list(_ query: ListRequest = ListRequest()) throws -> ListPage {
        let reply = try request(.list, query.body, expect: .list)
        var workflows: [WorkflowSummary] = []
        for (i, row) in (reply["workflows"]?.arrayValue ?? []).enumerated() {
            guard let o = row.objectValue else { throw ClientError.badReply("workflows[\(i)] is not an object") }
            do { workflows.append(try WorkflowSummary(json: o)) } catch { throw ClientError.badReply("workflows[\(i)]: \(error.message)") }
        }
        return ListPage(workflows: workflows, next: reply["next"]?.stringValue)
    }

    /// STOP: the emergency stop of workflow `name` (or of every name, `"*"`); returns how
    /// many RUNNING workflows it moved to STOPPED. Safe to resend.
    @discardableResult
    public func stop(name: String, reason: String) throws -> Int {
        let reply = try request(.stop, StopRequest(name: name, reason: reason).body, expect: .ok)
        return Int(reply["stopped"]?.intValue ?? 0)
    }

    /// RESUME: lifts the stop of exactly `name` (or of `"*"`). Starts nothing: EXEC
    /// continues a STOPPED workflow. Safe to resend.
    public func resume(name: String) throws {
        _ = try request(.resume, ResumeRequest(name: name).body, expect: .ok)
    }

    /// LIMITS: the rate limits and stops in force with their live levels, as the broker
    /// reports them (spec §4.3.9).
    public func limits() throws -> [String: JSONValue] {
        try request(.limits, [:], expect: .ok)
    }

    /// STATS: the broker's statistics (spec §4.3.10): gauges, counters since its start
    /// and histograms, as the reply's JSON object. Admin only with keys.
    public func stats() throws -> [String: JSONValue] {
        try request(.stats, [:], expect: .ok)
    }

    /// BACKUP: the broker writes a consistent copy of its database to `path`, on the
    /// broker's host (absolute; never overwritten), and answers once it is fsynced:
    /// `{path, bytes, workflows, took_ms}` (spec §4.3.11). Waits up to `waitMs` for it.
    public func backup(path: String, waitMs: Int = 600_000) throws -> [String: JSONValue] {
        // A PING first, at the usual timeout: an unreachable broker fails fast instead of
        // after the long wait a big backup may need.
        try ping()
        return try request(.backup, BackupRequest(path: path).body, expect: .ok, extraWaitMs: waitMs)
    }

    /// PING: true when the broker answered PONG.
    public func ping() throws {
        _ = try request(.ping, [:], expect: .pong)
    }

    // MARK: Request / reply with retries

    /// Sends a request and waits for the reply whose tag matches; replies to earlier,
    /// abandoned tries are skipped. Throws `.remote` when the broker answers ERROR.
    public func request(_ command: ClientCommand, _ body: JSONValue, expect: ReplyCommand, extraWaitMs: Int = 0) throws -> [String: JSONValue] {
        let tag = Array(randomHex(8).utf8)
        let frames = ClientFrames.encodeRequest(command, tag: tag, body: body)
        for _ in 0..<attempts {
            do {
                let s = try liveSocket()
                try s.send(frames)
                if let reply = try awaitReply(on: s, tag: tag, timeoutMs: timeoutMs + extraWaitMs) {
                    if reply.command == .error { throw ClientError.remote(errorReply: reply.body) }
                    guard reply.command == expect else {
                        throw ClientError.badReply("expected \(expect.rawValue), got \(reply.command.rawValue)")
                    }
                    return reply.body
                }
            } catch let error as ZMQError {
                throw ClientError.socket(error)
            }
            // Lazy Pirate: the socket may hold a half-sent request or a dead connection;
            // a fresh one starts clean.
            close()
        }
        throw ClientError.timeout(command: command.rawValue, attempts: attempts, timeoutMs: timeoutMs)
    }

    private func awaitReply(on s: Socket, tag: [UInt8], timeoutMs: Int) throws -> ClientFrames.Reply? {
        var poller = try Poller([.socket(s)])
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(timeoutMs))
        while true {
            let left = clock.now.duration(to: deadline)
            if left <= .zero { return nil }
            guard try poller.poll(timeoutMs: Self.roundedUpMs(left))[0] else { continue }
            guard let frames = try s.receive(dontWait: true) else { continue }
            let reply: ClientFrames.Reply
            do {
                reply = try ClientFrames.decodeReply(frames)
            } catch {
                throw ClientError.badReply(error.message)
            }
            if reply.tag == tag { return reply }
        }
    }

    /// Rounded up, so that a poll never returns early and spins on a zero timeout.
    private static func roundedUpMs(_ d: Duration) -> Int {
        let (seconds, attoseconds) = d.components
        let perMs: Int64 = 1_000_000_000_000_000
        return Int(seconds) * 1000 + Int((attoseconds + perMs - 1) / perMs)
    }

    private func liveSocket() throws(ZMQError) -> Socket {
        if let s = socket { return s }
        let s = try context.socket(.dealer)
        try s.setLinger(0)
        try s.setReconnectInterval(100, max: 2000)
        if let curve { try s.setCurveClient(serverKey: curve.serverKey, publicKey: curve.publicKey, secretKey: curve.secretKey) }
        try s.connect(endpoint)
        socket = s
        return s
    }

    private func page(from body: [String: JSONValue]) throws -> StatusPage {
        do {
            let next = try Field.optionalInt(body, "jobs_next", range: 0...Int64(Int32.max)).map { Int($0) }
            return StatusPage(status: try WorkflowStatus(json: body), next: next)
        } catch {
            throw ClientError.badReply(error.message)
        }
    }

    /// Follows `jobs_next` from the first page until the last, appending each page's jobs.
    /// A cursor that does not move forward, or a page of another shape, is a bad reply.
    private func wholeStatus(firstPage body: [String: JSONValue]) throws -> WorkflowStatus {
        var page = try page(from: body)
        var whole = page.status
        var from = 0
        while let next = page.next {
            guard next > from else { throw ClientError.badReply("STATUS jobs_next \(next) does not move past \(from)") }
            from = next
            page = try statusPage(whole.id, jobsFrom: next)
            guard whole.append(page: page.status) else {
                throw ClientError.badReply("STATUS page from job \(next) does not match the first page's blocks")
            }
        }
        return whole
    }

    private func randomHex(_ bytes: Int) -> String {
        let digits = Array("0123456789abcdef")
        var s = ""
        for _ in 0..<bytes {
            let b = UInt8.random(in: 0...255, using: &random)
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return s
    }
}

/// The keys a CURVE client needs: the server's public key and its own pair.
public struct CurveClientKeys: Sendable {
    public var serverKey: String
    public var publicKey: String
    public var secretKey: String

    public init(serverKey: String, publicKey: String, secretKey: String) {
        self.serverKey = serverKey
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Keys for a client that only needs to know the server: a fresh key pair of its own.
    public static func ephemeral(serverKey: String) throws -> CurveClientKeys {
        do {
            let pair = try CurveKeyPair.generate()
            return CurveClientKeys(serverKey: serverKey, publicKey: pair.publicKey, secretKey: pair.secretKey)
        } catch {
            throw ClientError.socket(error)
        }
    }
}
