import BatonWire
import Foundation
import Logging
import ZeroMQ

/// A Baton worker: connects a DEALER to the broker's worker endpoint, declares its job
/// types and capacity in READY, runs each JOB it gets on a thread of its own, reports
/// each with RESULT, and keeps the heartbeat both ways.
///
/// Reconnects by itself: when the broker is silent for 3 heartbeat intervals or answers
/// DISCONNECT (normal after a broker restart), the worker closes its socket, opens a
/// fresh one (a new identity) and sends READY again.
///
/// `run()` blocks its thread (it owns the socket); `requestStop()` works from any thread.
public final class Worker: @unchecked Sendable {
    public struct Options: Sendable {
        public var endpoint: String
        public var name: String
        public var capacity: Int
        /// Interval used until the broker announces its own in HEARTBEAT.
        public var heartbeatMs: Int64 = 1000
        /// CURVE: (broker public key, own public key, own secret key); nil for plain TCP.
        public var curve: (serverKey: String, publicKey: String, secretKey: String)?

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
    private let lock = NSLock()
    /// Finished jobs waiting to be reported; filled by job threads, drained by the loop.
    private var finished: [ResultBody] = []
    private var stopRequested = false
    private let pool: JobPool

    public init(options: Options, handlers: [String: JobHandler], logger: Logger) throws {
        precondition(!handlers.isEmpty, "a worker needs at least one job type")
        self.options = options
        self.handlers = handlers
        self.logger = logger
        pool = JobPool(keepIdle: options.capacity)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw JobFailure("pipe failed: errno \(errno)") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    public func requestStop() {
        lock.withLock { stopRequested = true }
        wake()
    }

    private func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    // MARK: The loop (runs on the calling thread, which owns the socket)

    private struct Session {
        var socket: Socket
        var intervalMs: Int64
        var lastHeard: Int64
        var lastSent: Int64
    }

    public func run() throws {
        let context = try Context()
        var running: [String: CancellationFlag] = [:]  // "job_id#attempt" -> flag
        var session = try connect(context, intervalMs: options.heartbeatMs)
        defer { session.socket.close(linger: 500) }

        while true {
            var poller = try Poller([.socket(session.socket), .fd(wakeRead)])
            let now = monotonicMs()
            let wait = max(0, min(session.lastSent + session.intervalMs, session.lastHeard + 3 * session.intervalMs) - now)
            let ready = try poller.poll(timeoutMs: Int(wait))
            if ready[1] { drainWakePipe() }
            if lock.withLock({ stopRequested }) {
                send(&session, .disconnect)
                logger.info("worker \(options.name) stopping; \(running.count) running job(s) abandoned (the broker will retry them)")
                return
            }
            while let frames = try session.socket.receive(dontWait: true) {
                session.lastHeard = monotonicMs()
                let message: WorkerFrames.Message
                do {
                    message = try WorkerFrames.decode(frames[...])
                } catch {
                    logger.warning("dropped malformed message from the broker: \(error)")
                    continue
                }
                switch message.command {
                case .heartbeat:
                    if let ms = message.body["interval_ms"]?.intValue, ms > 0 { session.intervalMs = ms }
                case .job:
                    start(message.body, running: &running)
                case .cancel:
                    if let c = try? CancelJobBody(body: message.body) {
                        running["\(c.jobId)#\(c.attempt)"]?.fire()
                    }
                case .disconnect:
                    logger.info("broker said DISCONNECT (\(message.body["reason"]?.stringValue ?? "")); reconnecting")
                    session.socket.close(linger: 0)
                    session = try connect(context, intervalMs: session.intervalMs)
                case .ready, .result:
                    logger.warning("broker sent \(message.command.rawValue), which only workers send; ignored")
                }
            }
            for result in lock.withLock({ () -> [ResultBody] in defer { finished = [] }; return finished }) {
                let key = "\(result.jobId)#\(result.attempt)"
                let cancelled = running[key]?.isSet ?? false
                running[key] = nil
                // A cancelled attempt's result would only be fenced off by the broker.
                if !cancelled { send(&session, .result, result.body) }
            }
            let after = monotonicMs()
            if after - session.lastHeard > 3 * session.intervalMs {
                logger.warning("broker silent for \(after - session.lastHeard) ms; reconnecting with a fresh socket")
                session.socket.close(linger: 0)
                session = try connect(context, intervalMs: session.intervalMs)
            } else if after - session.lastSent >= session.intervalMs {
                send(&session, .heartbeat)
            }
        }
    }

    private func connect(_ context: Context, intervalMs: Int64) throws -> Session {
        let s = try context.socket(.dealer)
        try s.setLinger(0)
        try s.setReconnectInterval(100, max: 2000)
        try s.setSendHighWaterMark(100_000)
        try s.setReceiveHighWaterMark(100_000)
        if let c = options.curve { try s.setCurveClient(serverKey: c.serverKey, publicKey: c.publicKey, secretKey: c.secretKey) }
        try s.connect(options.endpoint)
        let now = monotonicMs()
        var session = Session(socket: s, intervalMs: intervalMs, lastHeard: now, lastSent: now)
        let ready = ReadyBody(worker: options.name, types: handlers.keys.sorted(), capacity: options.capacity)
        send(&session, .ready, ready.body)
        return session
    }

    private func send(_ session: inout Session, _ command: WorkerCommand, _ body: [String: JSONValue] = [:]) {
        do {
            if try session.socket.send(WorkerFrames.encode(.init(command, body)), dontWait: true) {
                session.lastSent = monotonicMs()
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

    /// Starts a JOB on a pool thread; its RESULT is queued for the loop to send.
    private func start(_ body: [String: JSONValue], running: inout [String: CancellationFlag]) {
        let job: JobBody
        do {
            job = try JobBody(body: body)
        } catch {
            logger.warning("dropped malformed JOB: \(error)")
            return
        }
        let flag = CancellationFlag()
        running["\(job.jobId)#\(job.attempt)"] = flag
        let context = JobContext(jobId: job.jobId, workflowId: job.workflowId, attempt: job.attempt, type: job.type,
                                 args: job.args, timeoutMs: job.timeoutMs, cancellation: flag)
        let handler = handlers[job.type]
        pool.run { [self] in
            let result: ResultBody
            if let handler {
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
            let first = lock.withLock { () -> Bool in
                finished.append(result)
                return finished.count == 1
            }
            if first { wake() }
        }
    }
}

/// Milliseconds on a clock that never jumps, for heartbeats and liveness.
func monotonicMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
