import BatonStore
import BatonWire
import Logging
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The broker process's event loop: the thin part around the engine.
///
/// Each turn: wait on both sockets; drain what is pending (bounded); feed it to the
/// engine; hand the turn's writes to the `Committer`, which commits them in ONE
/// transaction (with any turns queued behind it) on its own thread; only once the turn
/// is back committed send its replies, job dispatches and deferred reads. At most one
/// fsync per turn, never a reply before its commit; the loop drains and decides the
/// next turn while the previous one is fsynced.
///
/// `run()` blocks its thread (zmq_poll); start it on a thread of its own, never on the
/// Swift concurrency pool. `requestStop()` may be called from any thread or signal
/// handler context (it only writes a byte to a pipe).
public final class BrokerServer: @unchecked Sendable {
    public let options: BrokerOptions
    private let logger: Logger
    private let wake: WakePipe
    /// Set once the sockets are bound; read by tests and the CLI after `onReady`.
    public private(set) var clientEndpoint = ""
    public private(set) var workerEndpoint = ""

    public init(options: BrokerOptions, logger: Logger) throws {
        self.options = options
        self.logger = logger
        wake = try WakePipe()
    }

    /// Asks the loop to stop after its current turn (graceful: the turn commits, workers
    /// get DISCONNECT, sockets close).
    public func requestStop() {
        wake.signal()
    }

    /// Runs until `requestStop()`. `onReady` is called once the sockets are bound and
    /// the state is restored, with the bound endpoints (wildcard ports resolved).
    public func run(onReady: (String, String) -> Void = { _, _ in }) throws {
        let store = try Store(path: options.databasePath, access: .owner)
        // Idempotency-key lookups (a keyed SUBMIT whose key is not in memory) read the
        // committed state through a second connection, so they never wait for the
        // committer's transaction. An in-memory database has only the one connection:
        // the loop's lookups then wait for the committer's transaction (GRDB's queue
        // serialises them), which is correct, only slower (tests use it).
        let lookups = try options.databasePath.map { try Store(path: $0, access: .reader) } ?? store
        var engine = Engine(
            config: EngineConfig(heartbeatMs: options.heartbeatMs, ttlMs: options.ttlMs),
            lookupKey: { try lookups.workflow(idempotencyKey: $0) })
        let reads = ReadSide(store: store, pageSize: engine.config.watchPageSize)
        let committer = try Committer(store: store, reads: reads)
        // Leaving on an error: the queued turns' messages will never be sent, so they are
        // not committed either. The store closes here, so its lock is free on return.
        var stoppedCleanly = false
        defer {
            committer.stop(discardQueued: !stoppedCleanly)
            try? lookups.close()
            try? store.close()
        }

        let context = try Context()
        let clients = try makeRouter(context, bind: options.clientEndpoint)
        let workers = try makeRouter(context, bind: options.workerEndpoint)
        clientEndpoint = try clients.lastEndpoint
        workerEndpoint = try workers.lastEndpoint
        defer {
            clients.close(linger: 1000)
            workers.close(linger: 1000)
        }

        let active = try store.loadActive()
        engine.restore(active, now: Clock.nowMs())
        logger.info("restored \(active.count) unfinished workflow(s) from \(options.databasePath ?? ":memory:")")
        var turn = Turn(engine: engine, store: store, reads: reads, committer: committer, clients: clients,
                        workers: workers, logger: logger)
        turn.finish(now: Clock.nowMs())
        turn.waitForCommits()
        onReady(clientEndpoint, workerEndpoint)
        logger.info("serving clients on \(clientEndpoint), workers on \(workerEndpoint)")

        // While the committer is full (or a failed commit is being unwound), only its
        // wake-up and the stop pipe are polled: the sockets would be readable at once.
        var poller = try Poller([.fd(wake.readFd), .fd(committer.readyFd), .socket(clients), .socket(workers)])
        var busyPoller = try Poller([.fd(wake.readFd), .fd(committer.readyFd)])
        while true {
            let wait = max(0, min(turn.engine.nextDeadline() - Clock.nowMs(), 1000))
            let polledSockets = turn.canStartTurn
            let ready = polledSockets ? try poller.poll(timeoutMs: Int(wait)) : try busyPoller.poll(timeoutMs: 1000)
            if ready[0] { break }
            if ready[1] { turn.sendCommitted() }
            let now = Clock.nowMs()
            turn.trimHeapIfIdle(now: now)
            guard turn.canStartTurn else { continue }
            // Woken only by the committer, with no message waiting and no timer due: no
            // turn to run (after a busy wait the sockets were not polled, so one runs).
            let idle = polledSockets && !ready[2] && !ready[3] && turn.unreachableWorkers.isEmpty
            if idle && now < turn.engine.nextDeadline() { continue }
            turn.retryRestoreIfNeeded(now: now)
            if turn.needsRestore {
                try turn.drainClients(max: options.maxBatch, maxBody: options.maxMessageBytes, now: now)
                try turn.drainWorkers(max: options.maxBatch, now: now)
                continue
            }
            turn.dropUnreachableWorkers(now: now)
            try turn.drainClients(max: options.maxBatch, maxBody: options.maxMessageBytes, now: now)
            try turn.drainWorkers(max: options.maxBatch, now: now)
            turn.engine.tick(now: now)
            turn.finish(now: now)
        }

        logger.info("stopping: telling workers to disconnect")
        turn.waitForCommits()
        turn.engine.disconnectAllWorkers(reason: "broker shutting down")
        turn.finish(now: Clock.nowMs())
        turn.waitForCommits()
        stoppedCleanly = true
    }

    private func makeRouter(_ context: Context, bind endpoint: String) throws -> Socket {
        let s = try context.socket(.router)
        try s.setRouterMandatory(true)
        try s.setMaxMessageSize(Int64(options.maxMessageBytes) * 16)
        try s.setSendHighWaterMark(100_000)
        try s.setReceiveHighWaterMark(100_000)
        try s.setLinger(1000)
        if let key = options.curveSecretKey { try s.setCurveServer(secretKey: key) }
        try s.bind(endpoint)
        return s
    }
}

/// Errors of the broker process itself (not of requests).
public enum BrokerError: Error, CustomStringConvertible {
    case system(String, Int32)

    public var description: String {
        switch self {
        case .system(let call, let err): "\(call) failed: \(String(cString: strerror(err)))"
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch: the engine's `now`.
public enum Clock {
    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
