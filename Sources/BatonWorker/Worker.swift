import BatonWire
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// A Baton worker: connects a DEALER to the broker's worker endpoint, declares its job
/// types and capacity in READY, runs each JOB it gets on a thread of its own, reports
/// each with RESULT, and keeps the heartbeat both ways.
///
/// Reconnects by itself: when the broker is silent for 3 heartbeat intervals or answers
/// DISCONNECT (normal after a broker restart), the worker closes its socket, opens a
/// fresh one (a new identity) and sends READY again. The jobs still running then are
/// cancelled and their results dropped: the broker ends those attempts with the old
/// identity (see `JobPool` for why that frees the pool's threads).
///
/// `run()` blocks its thread (it owns the socket); `requestStop()` works from any thread.
/// On stop the running jobs are cancelled too, and `run()` waits for them a short while
/// (`stopWait`) so a `shell` job's process group is killed before the worker exits.
///
/// Sendable by the compiler: the state shared with job threads and `requestStop()` is in
/// a `Mutex`; the rest is immutable, and the socket never leaves `run()`.
public final class Worker: Sendable {
    public struct Options: Sendable {
        public var endpoint: String
        public var name: String
        public var capacity: Int
        /// Interval used until the broker announces its own in HEARTBEAT.
        public var heartbeatMs: Int64 = 1000
        /// CURVE: (broker public key, own public key, own secret key); nil for plain TCP.
        public var curve: (serverKey: String, publicKey: String, secretKey: String)?
        /// How long a stopping `run()` waits for cancelled jobs to return.
        public var stopWait: Duration = .seconds(3)
        /// How long a draining worker (`requestDrain()`) lets its running jobs finish
        /// before it leaves anyway (they are then cancelled and retried elsewhere).
        public var drainTimeout: Duration = .seconds(30)

        public init(endpoint: String, name: String, capacity: Int) {
            self.endpoint = endpoint
            self.name = name
            self.capacity = capacity
        }
    }

    public let options: Options
    private let handlers: [String: JobHandler]
    private let logger: Logger
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let shared = Mutex(Shared())
    private let pool: JobPool

    /// What job threads and `requestStop()` share with the loop.
    private struct Shared {
        /// Finished jobs waiting to be reported; filled by job threads, drained by the loop.
        var finished: [ResultBody] = []
        /// PROGRESS of running jobs, waiting for the loop to send them.
        var progress: [ProgressBody] = []
        var stopRequested = false
        var drainRequested = false
    }

    public init(options: Options, handlers: [String: JobHandler], logger: Logger) throws {
        precondition(!handlers.isEmpty, "a worker needs at least one job type")
        self.options = options
        self.handlers = handlers
        self.logger = logger
        pool = JobPool(capacity: options.capacity)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw JobFailure("pipe failed: errno \(errno)") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        pool.close()
        close(wakeRead)
        close(wakeWrite)
    }

    /// Leaves at once: DISCONNECT, running jobs cancelled (the broker retries them).
    public func requestStop() {
        shared.withLock { $0.stopRequested = true }
        wake()
    }

    /// Takes no new jobs (READY with capacity 0: the broker sends no more JOBs), lets the
    /// running ones finish and report for up to `drainTimeout`, then leaves with
    /// DISCONNECT. Rolling a fleet this way re-runs nothing. `requestStop()` during a
    /// drain leaves at once.
    public func requestDrain() {
        shared.withLock { $0.drainRequested = true }
        wake()
    }

    private func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    // MARK: The loop (runs on the calling thread, which owns the socket)

    private struct Session {
        var socket: Socket
        var interval: Duration
        var lastHeard: ContinuousClock.Instant
        var lastSent: ContinuousClock.Instant
        /// The largest RESULT body the broker takes (its HEARTBEAT's `max_output_bytes`);
        /// nil until told (brokers before it did not say).
        var maxResultBytes: Int?
        /// The broker's `features`, from the answer to a READY on this connection; nil
        /// until an answer came.
        var features: Set<String>?
        /// The READY waiting for its answer (spec §9.3: at most one at a time): when it
        /// was sent, and its capacity (to send the same again if the answer was lost).
        var unansweredReady: (sentAt: ContinuousClock.Instant, capacity: Int)?

        /// Whether a READY on this connection was answered: pacing (spec §9.4) waits
        /// before the next connection only after one that never was.
        var answered: Bool { features != nil }
        /// The broker counts as dead after this much silence.
        var deadAfter: Duration { interval * 3 }
    }

    /// What the loop knows of one running attempt.
    private struct Attempt {
        let flag: CancellationFlag
        /// When the worker gives the attempt up by itself: `timeout_ms` after the JOB came
        /// (spec §9.3, giving up); nil without a timeout.
        let giveUpAt: ContinuousClock.Instant?
    }

    /// A running attempt's key in `running`: "job_id#attempt".
    private static func key(_ jobId: String, _ attempt: Int) -> String { "\(jobId)#\(attempt)" }

    /// `job_id` and `attempt` as log metadata, for lines that name a job: fields of their
    /// own in the JSON log format (`baton worker --log-format json`).
    private static func jobFields(_ jobId: String, _ attempt: some BinaryInteger) -> Logger.Metadata {
        ["job_id": .string(jobId), "attempt": .string("\(attempt)")]
    }

    /// The same from a `key(_:_:)`.
    private static func jobFields(key: String) -> Logger.Metadata {
        guard let hash = key.lastIndex(of: "#") else { return ["job_id": .string(key)] }
        return jobFields(String(key[..<hash]), Int(key[key.index(after: hash)...]) ?? 0)
    }

    /// The wait before a new connection after one that no READY answer came on (spec
    /// §9.4, pacing reconnects): 1 s, doubling to 30 s, back to none once answered.
    static let firstReconnectWait = Duration.seconds(1)
    static let lastReconnectWait = Duration.seconds(30)

    public func run() throws {
        let context = try Context()
        var running: [String: Attempt] = [:]  // "job_id#attempt" -> attempt
        var session = try connect(context, interval: .milliseconds(options.heartbeatMs), capacity: options.capacity)
        defer { session.socket.close(linger: 500) }
        var drainUntil: ContinuousClock.Instant?  // set while draining
        // The broker answered the READY with capacity 0 (its HEARTBEAT carrying
        // max_output_bytes): no JOB can follow it on this connection, so once nothing
        // runs the drain is over. Leaving before the answer could drop a JOB already on
        // its way, and the answer itself (the broker would see the worker as lost).
        var drainAcknowledged = false
        var reconnectWait = Duration.zero

        /// Ends this connection and opens the next, after the pacing wait when no READY
        /// of this one was answered. Returns false when the worker should leave instead:
        /// it was draining (every attempt it held is abandoned, nothing is left to drain),
        /// or a stop came during the wait.
        func reconnect(_ why: String) throws -> Bool {
            try abandon(&running)
            session.socket.close(linger: 0)
            if drainUntil != nil {
                logger.info("worker \(options.name) lost its connection while draining (\(why)); nothing left to drain, leaving")
                return false
            }
            if session.answered {
                reconnectWait = .zero
            } else {
                reconnectWait = reconnectWait == .zero ? Self.firstReconnectWait : min(reconnectWait * 2, Self.lastReconnectWait)
                logger.warning("worker \(options.name): no answer to READY on that connection (\(why)); reconnecting in \(reconnectWait)")
                guard try waitUnlessStopped(reconnectWait) else { return false }
            }
            session = try connect(context, interval: session.interval, capacity: options.capacity)
            drainAcknowledged = false
            return true
        }

        while true {
            var poller = try Poller([.socket(session.socket), .fd(wakeRead)])
            var wakeAt = min(session.lastSent + session.interval, session.lastHeard + session.deadAfter)
            if let drainUntil { wakeAt = min(wakeAt, drainUntil) }
            if let ready = session.unansweredReady { wakeAt = min(wakeAt, ready.sentAt + session.deadAfter) }
            if let giveUp = running.values.compactMap(\.giveUpAt).min() { wakeAt = min(wakeAt, giveUp) }
            let ready = try poller.poll(timeoutMs: Self.milliseconds(until: wakeAt))
            if ready[1] { drainWakePipe() }
            if shared.withLock({ $0.stopRequested }) {
                send(&session, .disconnect)
                logger.info("worker \(options.name) stopping; \(running.count) running job(s) cancelled (the broker will retry them)")
                try abandon(&running)
                return
            }
            while let frames = try session.socket.receive(dontWait: true) {
                session.lastHeard = .now
                let message: WorkerFrames.Message
                do {
                    message = try WorkerFrames.decode(frames[...])
                } catch {
                    logger.warning("dropped malformed message from the broker: \(error)")
                    continue
                }
                switch message.command {
                case .heartbeat:
                    if let ms = message.body["interval_ms"]?.intValue, ms > 0 { session.interval = .milliseconds(ms) }
                    // One carrying max_output_bytes answers a READY (spec §9.3).
                    if let n = message.body["max_output_bytes"]?.intValue, n > 0 {
                        session.maxResultBytes = Int(n)
                        session.features = Set((message.body["features"]?.arrayValue ?? []).compactMap(\.stringValue))
                        let answeredDrain = session.unansweredReady?.capacity == 0
                        session.unansweredReady = nil
                        reconnectWait = .zero
                        if drainUntil != nil && answeredDrain { drainAcknowledged = true }
                    }
                case .job:
                    start(message.body, running: &running, session: &session)
                case .cancel:
                    if let c = try? CancelJobBody(body: message.body) {
                        running[Self.key(c.jobId, c.attempt)]?.flag.fire()
                    }
                case .disconnect:
                    let code = message.body["code"]?.stringValue.map { "\($0): " } ?? ""
                    let why = "DISCONNECT \(code)\(message.body["reason"]?.stringValue ?? "")"
                    logger.info("broker said \(why); reconnecting")
                    guard try reconnect(why) else { return }
                case .ready, .result, .progress:
                    logger.warning("broker sent \(message.command.rawValue), which only workers send; ignored")
                }
            }
            if drainUntil == nil, shared.withLock({ $0.drainRequested }) {
                // After the messages above, so an answer to READY already here counts. A
                // drain needs the broker's `drain` feature (spec §9.5), known from the
                // answer to READY: before it, or on a broker without it, leave at once.
                guard let features = session.features, features.contains("drain") else {
                    let why = session.answered ? "the broker does not announce drain" : "no answer to READY yet"
                    logger.info("worker \(options.name) stopping at once (\(why)); \(running.count) running job(s) go back to the broker")
                    send(&session, .disconnect)
                    shared.withLock { $0.stopRequested = true }  // abandon waits for the handlers, as on stop
                    try abandon(&running)
                    return
                }
                drainUntil = .now + options.drainTimeout
                sendReady(&session, capacity: 0)
                logger.info("worker \(options.name) draining: no new jobs; \(running.count) running job(s) may finish within \(options.drainTimeout)")
            }
            for beat in takeProgress() where running[Self.key(beat.jobId, beat.attempt)].map({ !$0.flag.isSet }) ?? false {
                send(&session, .progress, beat.body)
            }
            for result in takeFinished() {
                // A cancelled or abandoned attempt's result would only be fenced off by the broker.
                guard let attempt = running.removeValue(forKey: Self.key(result.jobId, result.attempt)), !attempt.flag.isSet
                else { continue }
                sendResult(&session, result)
            }
            giveUpTimedOut(&running)
            if let until = drainUntil, (running.isEmpty && drainAcknowledged) || ContinuousClock.now >= until {
                send(&session, .disconnect)
                if running.isEmpty {
                    logger.info("worker \(options.name) drained: every running job finished; leaving")
                } else {
                    logger.warning("worker \(options.name) drain timed out after \(options.drainTimeout); \(running.count) job(s) cancelled (the broker will retry them)")
                    shared.withLock { $0.stopRequested = true }  // abandon waits for the handlers, as on stop
                    try abandon(&running)
                }
                return
            }
            let now = ContinuousClock.now
            if now - session.lastHeard > session.deadAfter {
                logger.warning("broker silent for \(now - session.lastHeard); reconnecting with a fresh socket")
                guard try reconnect("broker silent") else { return }
            } else if let ready = session.unansweredReady, now - ready.sentAt >= session.deadAfter, session.lastHeard > ready.sentAt {
                // The broker is heard but this READY's answer is not: lost (spec §9.3).
                // The same READY again changes nothing at the broker; either answer will do.
                logger.warning("no answer to READY within \(session.deadAfter) while the broker is heard; sending it again")
                sendReady(&session, capacity: ready.capacity)
            } else if now - session.lastSent >= session.interval {
                send(&session, .heartbeat)
            }
        }
    }

    /// Gives up every attempt whose `timeout_ms` has passed since its JOB came (spec
    /// §9.3): the broker has ended it or is about to (its CANCEL normally comes first),
    /// so the work stops and no RESULT is sent.
    private func giveUpTimedOut(_ running: inout [String: Attempt]) {
        let now = ContinuousClock.now
        for (key, attempt) in running {
            guard let at = attempt.giveUpAt, now >= at else { continue }
            logger.warning("job \(key): timeout_ms passed since it came; giving it up (the broker retries it)",
                           metadata: Self.jobFields(key: key))
            attempt.flag.fire()
            running[key] = nil
        }
    }

    /// Sleeps up to `wait`, waking for a stop or drain request; false when one came (the
    /// worker holds no connection then, so it just leaves).
    private func waitUnlessStopped(_ wait: Duration) throws -> Bool {
        let until = ContinuousClock.now + wait
        while ContinuousClock.now < until {
            if shared.withLock({ $0.stopRequested || $0.drainRequested }) { return false }
            var poller = try Poller([.fd(wakeRead)])
            if try poller.poll(timeoutMs: Self.milliseconds(until: until))[0] { drainWakePipe() }
        }
        return !shared.withLock { $0.stopRequested || $0.drainRequested }
    }

    private func takeProgress() -> [ProgressBody] {
        shared.withLock { shared in
            defer { shared.progress = [] }
            return shared.progress
        }
    }

    private func takeFinished() -> [ResultBody] {
        shared.withLock { shared in
            defer { shared.finished = [] }
            return shared.finished
        }
    }

    /// Cancels every running attempt and forgets it: after a reconnect or on stop the
    /// broker ends these attempts itself, so their results are dropped. On stop, waits up
    /// to `stopWait` for the handlers to return, so a `shell` job can kill its process
    /// group before this process exits (a handler that ignores cancellation is left).
    private func abandon(_ running: inout [String: Attempt]) throws {
        for attempt in running.values { attempt.flag.fire() }
        var waiting = Set(running.keys)
        running = [:]
        guard !waiting.isEmpty, shared.withLock({ $0.stopRequested }) else { return }
        let deadline = ContinuousClock.now + options.stopWait
        while !waiting.isEmpty, ContinuousClock.now < deadline {
            var poller = try Poller([.fd(wakeRead)])
            if try poller.poll(timeoutMs: Self.milliseconds(until: deadline))[0] { drainWakePipe() }
            for result in takeFinished() { waiting.remove(Self.key(result.jobId, result.attempt)) }
        }
        if !waiting.isEmpty { logger.warning("\(waiting.count) job(s) still running after \(options.stopWait); left behind") }
    }

    /// Milliseconds from now until `instant`, rounded up, for `zmq_poll` (0 when past).
    private static func milliseconds(until instant: ContinuousClock.Instant) -> Int {
        let left = ContinuousClock.now.duration(to: instant)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        return Int(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    /// A fresh DEALER and READY; `capacity` 0 while draining, so a reconnect does not
    /// bring new jobs.
    private func connect(_ context: Context, interval: Duration, capacity: Int) throws -> Session {
        let s = try context.socket(.dealer)
        try s.setLinger(0)
        try s.setReconnectInterval(100, max: 2000)
        try s.setSendHighWaterMark(100_000)
        try s.setReceiveHighWaterMark(100_000)
        if let c = options.curve { try s.setCurveClient(serverKey: c.serverKey, publicKey: c.publicKey, secretKey: c.secretKey) }
        try s.connect(options.endpoint)
        let now = ContinuousClock.now
        var session = Session(socket: s, interval: interval, lastHeard: now, lastSent: now)
        sendReady(&session, capacity: capacity)
        return session
    }

    /// READY with this worker's name and types; the answer is awaited (`unansweredReady`).
    private func sendReady(_ session: inout Session, capacity: Int) {
        send(&session, .ready, ReadyBody(worker: options.name, types: handlers.keys.sorted(), capacity: capacity).body)
        session.unansweredReady = (.now, capacity)
    }

    /// Sends a RESULT, or, when its body is over the broker's `max_output_bytes`, a
    /// failure that says so: the broker would fail the attempt anyway (or libzmq cut the
    /// connection, for a body over its message limit), and this way the job's error
    /// tells the operator why, and nothing else on the connection is lost.
    private func sendResult(_ session: inout Session, _ result: ResultBody) {
        var frames = WorkerFrames.encode(.init(.result, result.body))
        if let limit = session.maxResultBytes, frames[3].count > limit {
            logger.warning("job \(result.jobId) attempt \(result.attempt): RESULT of \(frames[3].count) bytes is over the broker's max_output_bytes \(limit); sending a failure instead",
                           metadata: Self.jobFields(result.jobId, result.attempt))
            let failure = ResultBody(jobId: result.jobId, attempt: result.attempt, ok: false,
                                     error: "output too large: a RESULT of \(frames[3].count) bytes is over the broker's max_output_bytes (\(limit))",
                                     retryable: false)
            frames = WorkerFrames.encode(.init(.result, failure.body))
        }
        send(&session, frames, .result)
    }

    private func send(_ session: inout Session, _ command: WorkerCommand, _ body: [String: JSONValue] = [:]) {
        send(&session, WorkerFrames.encode(.init(command, body)), command)
    }

    private func send(_ session: inout Session, _ frames: [[UInt8]], _ command: WorkerCommand) {
        do {
            if try session.socket.send(frames, dontWait: true) {
                session.lastSent = .now
            } else {
                logger.warning("could not queue \(command.rawValue) (broker unreachable)")
            }
        } catch {
            logger.warning("send \(command.rawValue) failed: \(error)")
        }
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        _ = read(wakeRead, &buffer, buffer.count)
    }

    /// Starts a JOB on a pool thread; its RESULT is queued for the loop to send. What
    /// §9.6 of the spec asks for JOBs the broker never sends: one without a usable
    /// `job_id` and `attempt` is dropped; one with another bad field gets a failed,
    /// retryable RESULT naming it; a second JOB for an attempt it holds is ignored; a
    /// newer attempt of a job ends the older one it still holds.
    private func start(_ body: [String: JSONValue], running: inout [String: Attempt], session: inout Session) {
        guard let jobId = body["job_id"]?.stringValue, !jobId.isEmpty,
              let attemptNumber = body["attempt"]?.intValue, attemptNumber >= 1, attemptNumber <= Int64(Int32.max) else {
            logger.warning("dropped a JOB without a usable job_id and attempt")
            return
        }
        let job: JobBody
        do {
            job = try JobBody(body: body)
        } catch {
            logger.warning("JOB \(jobId) attempt \(attemptNumber) is malformed (\(error.message)); failing it, retryable",
                           metadata: Self.jobFields(jobId, attemptNumber))
            sendResult(&session, ResultBody(jobId: jobId, attempt: Int(attemptNumber), ok: false,
                                            error: "malformed JOB: \(error.message)", retryable: true))
            return
        }
        let key = Self.key(job.jobId, job.attempt)
        if running[key] != nil {
            logger.warning("a second JOB for \(key), which runs already; ignored", metadata: Self.jobFields(job.jobId, job.attempt))
            return
        }
        for (other, attempt) in running where other.hasPrefix(job.jobId + "#")
            && Int(other.dropFirst(job.jobId.count + 1)) ?? 0 < job.attempt {
            // An older attempt whose CANCEL was lost: the broker has moved on from it.
            logger.warning("JOB \(key) replaces \(other), which is cancelled", metadata: Self.jobFields(job.jobId, job.attempt))
            attempt.flag.fire()
            running[other] = nil
        }
        let flag = CancellationFlag()
        running[key] = Attempt(flag: flag, giveUpAt: job.timeoutMs > 0 ? .now + .milliseconds(job.timeoutMs) : nil)
        let context = JobContext(jobId: job.jobId, workflowId: job.workflowId, attempt: job.attempt, type: job.type,
                                 args: job.args, timeoutMs: job.timeoutMs, heartbeatTimeoutMs: job.heartbeatTimeoutMs,
                                 cancellation: flag) { [self] details in
            let beat = ProgressBody(jobId: job.jobId, attempt: job.attempt, details: details)
            let first = shared.withLock { shared -> Bool in
                shared.progress.append(beat)
                return shared.progress.count == 1
            }
            if first { wake() }
        }
        let handler = handlers[job.type]
        pool.run { [self] in
            let result: ResultBody
            if flag.isSet {
                // Cancelled while it waited for a thread: its result is dropped anyway.
                result = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: false, error: "cancelled before it started")
            } else if let handler {
                do {
                    let output = try handler(context)
                    result = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: true, output: output)
                } catch let failure as JobFailure {
                    result = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: false, error: failure.message,
                                        retryable: failure.retryable)
                } catch {
                    result = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: false, error: "\(error)")
                }
            } else {
                result = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: false,
                                    error: "worker \(options.name) has no handler for type \(job.type)", retryable: true)
            }
            // One wake-up per batch: the loop drains the pipe before it takes `finished`,
            // so a result queued behind an untaken one needs no byte of its own.
            let first = shared.withLock { shared -> Bool in
                shared.finished.append(result)
                return shared.finished.count == 1
            }
            if first { wake() }
        }
    }
}
