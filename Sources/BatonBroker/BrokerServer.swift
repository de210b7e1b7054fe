import BatonConfig
import BatonKeys
import BatonStore
import BatonWire
import Logging
import Synchronization
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The broker process: opens the store, binds the two ROUTER sockets, rebuilds memory,
/// and runs the `BrokerLoop` until asked to stop.
///
/// The loop: each turn, wait on both sockets; drain what is pending (bounded); feed it
/// to the engine; hand the turn's writes to the `Committer`, which commits them in ONE
/// transaction (with any turns queued behind it) on its own thread; only once the turn
/// is back committed send its replies, job dispatches and deferred reads. At most one
/// fsync per turn, never a reply before its commit; the loop drains and decides the
/// next turn while the previous one is fsynced.
///
/// `run()` blocks its thread (zmq_poll); start it on a thread of its own, never on the
/// Swift concurrency pool. `requestStop()` may be called from any thread or signal
/// handler context (it only writes a byte to a pipe).
public final class BrokerServer: Sendable {
    public let options: BrokerOptions
    private let logger: Logger
    private let stop: WakePipe
    /// Changes handed over by `reconfigure` and the stop file's watcher, taken by the
    /// loop at its next wake-up.
    private let pending = Mutex(PendingChanges())
    private let settingsChanged: WakePipe
    /// The bound endpoints (wildcard ports resolved), set by `run` once bound; a mutex
    /// publishes them to the threads that read them.
    private let endpoints = Mutex<(client: String, worker: String)>(("", ""))
    /// The keys in force (CURVE only), shared with the ZAP handler.
    private let keyRing: KeyRingBox

    public var clientEndpoint: String { endpoints.withLock { $0.client } }
    public var workerEndpoint: String { endpoints.withLock { $0.worker } }

    public init(options: BrokerOptions, logger: Logger) throws {
        self.options = options
        self.logger = logger
        keyRing = KeyRingBox(options.keys)
        stop = try WakePipe()
        settingsChanged = try WakePipe()
    }

    /// Puts new policies and limits in force (SIGHUP), from any thread: the loop takes
    /// them at its next wake-up, between turns.
    public func reconfigure(_ settings: RuntimeSettings) {
        // The ZAP handler sees new keys at once; the loop (which refuses requests of
        // removed keys on open connections) at its next wake-up.
        if let keys = settings.keys { keyRing.replace(with: keys) }
        pending.withLock { $0.settings = settings }
        settingsChanged.signal()
    }

    private func stopFileChanged(_ stops: [String: StopRecord]) {
        pending.withLock { $0.fileStops = stops }
        settingsChanged.signal()
    }

    /// A backup's reply, from the backup thread: the loop sends it at its next wake-up.
    private func backupFinished(_ reply: ClientReply) {
        pending.withLock { $0.replies.append(reply) }
        settingsChanged.signal()
    }

    private func takePendingChanges() -> PendingChanges {
        pending.withLock { changes in
            defer { changes = PendingChanges() }
            return changes
        }
    }

    /// Asks the loop to stop after its current turn (graceful: the turn commits, workers
    /// get DISCONNECT, sockets close).
    public func requestStop() {
        stop.signal()
    }

    /// Runs until `requestStop()`. `onReady` is called once the sockets are bound and
    /// the state is restored, with the bound endpoints (wildcard ports resolved).
    public func run(onReady: (String, String) -> Void = { _, _ in }) throws {
        let clock = ContinuousClock()
        let started = clock.now
        let store = try Store(path: options.databasePath, access: .owner)
        // Checkpoints off the commit path (`Checkpointer`); an in-memory store has no WAL.
        let checkpointer = try options.databasePath.map { try Checkpointer(path: $0) }
        // Last out: the committer (below) stops first, then these; the store closes here,
        // so its lock is free on return.
        defer {
            checkpointer?.stop()
            try? store.close()
        }
        if let checkpointer { try store.checkpointElsewhere { checkpointer.wake() } }
        let opened = clock.now
        var config = EngineConfig(heartbeatMs: options.heartbeatMs, ttlMs: options.ttlMs)
        config.maxSubmittedPerOwner = options.maxSubmittedPerOwner
        config.maxOutputBytes = options.maxMessageBytes
        config.notesInfo = logger.logLevel <= .info
        let engine = Engine(config: config)
        let retention = options.retentionMs > 0 ? Committer.Retention(keepMs: options.retentionMs) : nil
        let committer = try Committer(store: store, reads: ReadSide(store: store, pageSize: engine.config.watchPageSize),
                                      retention: retention)
        // Leaving on an error: the queued turns' messages will never be sent, so they are
        // not committed either.
        var stoppedCleanly = false
        defer { committer.stop(discardQueued: !stoppedCleanly) }

        try checkPlainModeBinds()
        let context = try Context()
        // The ZAP handler first: libzmq admits every key while none is bound.
        let zap = try options.curveSecretKey.map { _ in try ZAPHandler(context: context, keys: keyRing, logger: logger) }
        defer { zap?.stop() }
        let clients = try makeRouter(context, bind: options.clientEndpoint, domain: .clients)
        let workers = try makeRouter(context, bind: options.workerEndpoint, domain: .workers)
        let bound = (client: try clients.lastEndpoint, worker: try workers.lastEndpoint)
        endpoints.withLock { $0 = bound }
        defer {
            clients.close(linger: 1000)
            workers.close(linger: 1000)
        }

        let loop = BrokerLoop(engine: engine, store: store, committer: committer, clients: clients, workers: workers,
                              logger: logger, options: options, keys: zap == nil ? nil : keyRing,
                              backups: BackupRunner(databasePath: options.databasePath) { [self] in backupFinished($0) },
                              takeChanges: { [self] in takePendingChanges() })
        let restoring = clock.now
        let restored = try loop.restoreFromStore()
        let restoredAt = clock.now
        var keys = KeyFilter()
        try store.forEachIdempotencyKey(count: { keys = KeyFilter(expected: $0) }, utf8: { keys.insert(utf8: $0) })
        loop.engine.knowStoredKeys(keys)
        let keysAt = clock.now
        try loop.apply(options.runtime)
        let stopFile = options.emergencyStopFile.map { path in
            StopFileWatcher(path: path, logger: logger) { [self] in stopFileChanged($0) }
        }
        if let stopFile {
            loop.engine.useFileStops(stopFile.readNow(), now: loop.engineNow())
            stopFile.start()
        }
        defer { stopFile?.stop() }
        logger.info("retention: finished workflows are kept \(options.retentionMs == 0 ? "forever" : "for " + RetentionPeriod.text(ms: options.retentionMs)) (--retention)")
        // The start's phases, for whoever wonders why a start was slow.
        logger.info("restored \(restored.running) running or stopped and \(restored.submitted) submitted workflow(s) from \(options.databasePath ?? ":memory:") in \(Self.ms(restoredAt - restoring)) ms (store opened in \(Self.ms(opened - started)) ms, key filter \(Self.ms(keysAt - restoredAt)) ms)")
        loop.finishTurn(now: loop.engineNow())
        loop.waitForCommits()
        onReady(bound.client, bound.worker)
        logger.info("serving clients on \(bound.client), workers on \(bound.worker)")

        try loop.run(until: stop, settingsChanged: settingsChanged)
        stoppedCleanly = true
    }

    private static func ms(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    /// Plain mode (no CURVE) cannot tell callers apart and treats each as an admin, so
    /// it serves this machine only unless the operator says `--insecure` (spec §3.5).
    private func checkPlainModeBinds() throws {
        guard options.curveSecretKey == nil else { return }
        for endpoint in [options.clientEndpoint, options.workerEndpoint] where !Self.isLoopback(endpoint) {
            guard options.insecure else { throw BrokerError.insecureBind(endpoint) }
            logger.warning("INSECURE: \(endpoint) is served without keys: anyone who reaches it may submit, run, stop and read every workflow, or register as a worker and receive every job")
        }
    }

    /// Whether `endpoint` can only be reached from this machine.
    static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst(6))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        // libzmq's "tcp://lo:5555" names an interface; only these hosts are loopback.
        if host == "localhost" || host == "::1" || host == "lo" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    private func makeRouter(_ context: Context, bind endpoint: String, domain: Endpoint) throws -> Socket {
        let s = try context.socket(.router)
        try s.setRouterMandatory(true)
        try s.setMaxMessageSize(Int64(options.maxMessageBytes) * 16)
        try s.setSendHighWaterMark(100_000)
        try s.setReceiveHighWaterMark(100_000)
        try s.setLinger(1000)
        if let key = options.curveSecretKey {
            try s.setCurveServer(secretKey: key)
            try s.setZapDomain(domain.rawValue)
        }
        do {
            try s.bind(endpoint)
        } catch {
            throw BrokerError.bind(endpoint, domain == .clients ? .clients : .workers, "\(error)")
        }
        return s
    }
}

/// Errors of the broker process itself (not of requests).
public enum BrokerError: Error, CustomStringConvertible {
    case system(String, Int32)
    /// Plain mode asked to bind a non-loopback endpoint without `--insecure`.
    case insecureBind(String)
    /// An endpoint could not be bound (in use, no such address, bad syntax).
    case bind(String, BindRole, String)

    public enum BindRole: String, Sendable {
        case clients = "client"
        case workers = "worker"
    }

    public var description: String {
        switch self {
        case .system(let call, let err): "\(call) failed: \(String(cString: strerror(err)))"
        case .insecureBind(let endpoint):
            "\(endpoint) is not a loopback address, and the broker has no keys: give it keys (--curve-secret and the --*-allow directories, see README \"Security\"), bind 127.0.0.1, or pass --insecure to serve it without authentication"
        case .bind(let endpoint, let role, let why):
            "cannot bind the \(role.rawValue) endpoint \(endpoint): \(why)"
        }
    }
}
