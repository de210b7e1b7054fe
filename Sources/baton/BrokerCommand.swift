import ArgumentParser
import BatonBroker
import BatonConfig
import BatonKeys
import BatonLogging
@preconcurrency import Dispatch
import Foundation
import Logging
import ZeroMQ

struct BrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Run the broker: the ROUTER endpoints, the engine and the SQLite store.",
        discussion: """
            Every flag has a key in the --config file (snake_case: --heartbeat-ms is heartbeat_ms); a flag \
            given here overrides its key. SIGHUP re-reads the file: policies and limits change at once, a \
            bad file keeps the running config (and says why in the log), other keys need a restart.
            """)

    @Option(name: .customLong("config"), help: "Config file (YAML): settings, policies and rate limits; see examples/baton.yaml. Without one everything is allowed (default $BATON_CONFIG).")
    var configFlag: String?

    var config: String? { configFlag ?? environment("BATON_CONFIG") }

    @Option(help: "Endpoint clients connect to (default tcp://127.0.0.1:5555).")
    var clients: String?

    @Option(help: "Endpoint workers connect to (default tcp://127.0.0.1:5556).")
    var workers: String?

    @Option(help: "SQLite database file, created if missing (default ./baton.db).")
    var db: String?

    @Option(help: "Heartbeat interval with workers, ms; a worker silent for 3 intervals is lost (default 1000).")
    var heartbeatMs: Int64?

    @Option(help: "Seconds a SUBMITTED workflow waits for EXEC before it expires (default 86400).")
    var ttlSeconds: Int64?

    @Option(help: "Largest request body answered, in bytes (larger: ERROR too_large), and largest RESULT body a worker may send (larger: the attempt fails) (default 1048576).")
    var maxMessageBytes: Int?

    @Option(help: "SUBMITTED workflows (not yet EXEC'd) one key may have at once; in plain mode, all callers together (default 10000).")
    var maxSubmitted: Int?

    @Option(name: [.customLong("curve-secret"), .customLong("curve-secret-key-file")],
            help: "The broker's own secret certificate (NAME.key_secret, see `baton keygen`): both endpoints then require CURVE, and only keys in the --*-allow directories get in.")
    var curveSecret: String?

    @Option(help: "Directory of public certificates (NAME.key) of client keys: SUBMIT, EXEC, STATUS, WATCH, CANCEL, LIST, PING on their own workflows.")
    var clientsAllow: String?

    @Option(help: "Directory of public certificates of worker keys: the worker endpoint only.")
    var workersAllow: String?

    @Option(help: "Directory of public certificates of admin keys: every workflow, plus STOP, RESUME and LIMITS.")
    var adminsAllow: String?

    @Flag(help: "Without keys, serve endpoints that are not loopback anyway (anyone who reaches them may do anything).")
    var insecure = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info).")
    var logLevel: String?

    @Option(help: "Log lines on standard error: text (for people) or json (one object per line, with fields such as workflow_id and worker, for journald and log shippers) (default text).")
    var logFormat: String?

    @Option(help: "How long finished workflows are kept, with their jobs and events: 30d, 12h, 90m, 45s, or 0 to keep everything (default 30d). Deleted in small batches between turns.")
    var retention: String?

    func validate() throws {
        if let clients { try checkEndpoint(clients, flag: "--clients") }
        if let workers { try checkEndpoint(workers, flag: "--workers") }
        if let heartbeatMs { guard heartbeatMs >= 10 else { throw ValidationError("--heartbeat-ms must be at least 10") } }
        if let ttlSeconds { guard ttlSeconds >= 1 else { throw ValidationError("--ttl-seconds must be at least 1") } }
        if let maxMessageBytes { guard maxMessageBytes >= 1024 else { throw ValidationError("--max-message-bytes must be at least 1024") } }
        if let maxSubmitted { guard maxSubmitted >= 1 else { throw ValidationError("--max-submitted must be at least 1") } }
        if let logLevel, !BrokerSettings.logLevels.contains(logLevel) {
            throw ValidationError("--log-level: \"\(logLevel)\" is not a level (\(BrokerSettings.logLevels.joined(separator: ", ")))")
        }
        if let logFormat { try checkLogFormat(logFormat, flag: "--log-format") }
        if let retention, case .failure(let error) = RetentionPeriod.parse(retention) { throw ValidationError("--retention: \(error)") }
    }

    func run() throws {
        let file = try config.map(loadConfig) ?? BrokerConfig()
        let settings = file.settings
        // The config file checked log_format against the same names.
        bootstrapLogging(level: logLevel ?? settings.logLevel ?? "info",
                         format: LogFormat(rawValue: logFormat ?? settings.logFormat ?? "text") ?? .text)
        let logger = Logger(label: "baton.broker")
        var options = BrokerOptions()
        options.clientEndpoint = clients ?? settings.clients ?? options.clientEndpoint
        options.workerEndpoint = workers ?? settings.workers ?? options.workerEndpoint
        let database = db ?? settings.db ?? "./baton.db"
        options.databasePath = database
        options.heartbeatMs = heartbeatMs ?? settings.heartbeatMs ?? options.heartbeatMs
        options.ttlMs = (ttlSeconds ?? settings.ttlSeconds ?? 86_400) * 1000
        options.maxMessageBytes = maxMessageBytes ?? settings.maxMessageBytes ?? options.maxMessageBytes
        options.maxSubmittedPerOwner = maxSubmitted ?? settings.maxSubmitted ?? options.maxSubmittedPerOwner
        if let retention, case .success(let ms) = RetentionPeriod.parse(retention) {
            options.retentionMs = ms
        } else if let ms = settings.retentionMs {
            options.retentionMs = ms
        }
        options.runtime = RuntimeSettings(file)
        options.emergencyStopFile = file.emergencyStopFile
        options.insecure = insecure || settings.insecure == true
        let allow = allowDirectories(settings)
        if let keyFile = curveSecret ?? settings.curveSecretKeyFile {
            let flag = curveSecret != nil ? "--curve-secret" : "curve_secret"
            let cert = try readSecretCertificate(keyFile, flag: flag)
            guard !allow.isEmpty else {
                throw ValidationError("\(flag) needs at least one of --clients-allow, --workers-allow, --admins-allow: with no allowlist no key could connect")
            }
            options.curveSecretKey = cert.secretKey
            options.keys = try loadKeyRing(allow, flag: "--*-allow")
            logger.info("CURVE on: broker public key \(cert.publicKey); \(describe(options.keys))")
        } else if !allow.isEmpty {
            throw ValidationError("--clients-allow, --workers-allow and --admins-allow need --curve-secret: keys are checked only on CURVE endpoints")
        }
        if let config { logger.info("config \(config): \(file.policies.count) polic(ies), \(file.limits.count) limit(s)") }
        if let version = ProcessAllocator.mimallocVersion {
            logger.info("allocator: mimalloc \(version)")
        } else {
            logger.warning("allocator: \(ProcessAllocator.glibcDescription)")
        }
        let dir = URL(fileURLWithPath: database).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let server = try BrokerServer(options: options, logger: logger)
        let signals = SignalStopper(onSignal: { name in
            logger.info("\(name): finishing the current turn and stopping")
            server.requestStop()
        })
        let keyed = options.curveSecretKey != nil
        let reloads = (config != nil || keyed) ? SignalReloader { [config] in
            reload(config, running: file, allow: keyed ? allow : nil, into: server, logger: logger)
        } : nil
        do {
            try server.run()
        } catch BrokerError.bind(let endpoint, let role, let why) {
            let flag = role == .clients ? "--clients (config key clients)" : "--workers (config key workers)"
            throw RuntimeError("cannot bind the \(role.rawValue) endpoint \(endpoint), from \(flag): \(why)")
        }
        withExtendedLifetime((signals, reloads)) {}
        logger.info("broker stopped")
    }

    /// The allowlist directories: each flag overrides its config key.
    private func allowDirectories(_ settings: BrokerSettings) -> KeyRing.Directories {
        KeyRing.Directories(clients: clientsAllow ?? settings.clientsAllow, workers: workersAllow ?? settings.workersAllow,
                            admins: adminsAllow ?? settings.adminsAllow)
    }

    private func loadConfig(_ path: String) throws -> BrokerConfig {
        do {
            return try BrokerConfig.load(file: path)
        } catch {
            throw ValidationError("--config: \(error)")
        }
    }
}

/// SIGHUP: re-reads the config file and the allowlist directories. Policies, limits and
/// keys take effect at once; a bad file or certificate keeps what runs (and the log says
/// why); keys that need a restart are named.
private func reload(_ path: String?, running: BrokerConfig, allow: KeyRing.Directories?, into server: BrokerServer,
                    logger: Logger) {
    var new = running
    if let path {
        do {
            new = try BrokerConfig.load(file: path)
        } catch {
            logger.error("SIGHUP: \(error); keeping the config in force")
            return
        }
        if new.settings != running.settings || new.emergencyStopFile != running.emergencyStopFile {
            logger.warning("SIGHUP: \(path) changes broker settings (endpoints, database, heartbeat, allowlist directories, ...): those take effect at the next restart")
        }
    }
    var settings = RuntimeSettings(new)
    if let allow {
        do {
            settings.keys = try KeyRing.load(allow)
        } catch {
            logger.error("SIGHUP: \(error); keeping the config and the keys in force")
            return
        }
        logger.info("SIGHUP: keys re-read: \(describe(settings.keys!))")
    }
    if let path { logger.info("SIGHUP: reloaded \(path)") }
    server.reconfigure(settings)
}

/// "2 client, 1 worker, 1 admin key(s)", for the log.
func describe(_ ring: KeyRing) -> String {
    "\(ring.count(.client)) client, \(ring.count(.worker)) worker, \(ring.count(.admin)) admin key(s)"
}

/// Reads the allowlists, naming the flag and the bad file when one is wrong.
func loadKeyRing(_ directories: KeyRing.Directories, flag: String) throws -> KeyRing {
    do {
        return try KeyRing.load(directories)
    } catch {
        throw ValidationError("\(flag): \(error)")
    }
}

/// Reads a secret certificate (or an old bare Z85 secret key file), naming the flag.
func readSecretCertificate(_ path: String, flag: String) throws -> CurveCertificate {
    do {
        return try CurveCertificate.readSecret(path: path)
    } catch {
        throw ValidationError("\(flag): \(error)")
    }
}

/// Runs `onHangUp` (on a Dispatch queue) at each SIGHUP while it lives.
final class SignalReloader {
    private let source: any DispatchSourceSignal

    init(onHangUp: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: onHangUp)
        source.resume()
    }
}

/// Turns SIGINT and SIGTERM into a graceful stop instead of an abrupt exit. Not
/// `Sendable`: it lives on the thread that made it, which keeps it until the end.
///
/// On Linux the signals are not set to SIG_IGN first: libdispatch puts a handler of
/// its own in place (checked: the signal is handled and the process goes on without
/// it), but only after `resume()` returns, on its own thread, so a signal in between
/// was ignored and lost, and the broker ran on (a test that sent SIGTERM at the
/// broker's first log line hung once). Left at its default, a signal that early ends
/// the process, which a crash-safe store allows. Elsewhere (kqueue) SIG_IGN is what
/// keeps the default action from killing the process, as libdispatch requires.
final class SignalStopper {
    private let sources: [any DispatchSourceSignal]

    init(onSignal: @escaping @Sendable (String) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            #if !os(Linux)
            signal(sig, SIG_IGN)
            #endif
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { onSignal(name) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }
}

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Make a CURVE certificate pair: DIR/NAME.key (public) and DIR/NAME.key_secret (mode 0600).",
        discussion: """
            The files are ZeroMQ certificates (czmq zcert / pyzmq zmq.auth format). Give NAME.key to whoever must \
            trust the key (the broker's allowlist directory, or the peers of a broker); keep NAME.key_secret where \
            the key is used. Existing files are never overwritten.
            """)

    @Argument(help: "Directory to write into (created if missing).") var directory: String
    @Argument(help: "The key's name: the file names, and the owner name the broker shows for this key.") var name: String

    func validate() throws {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), name.utf8.count <= 200 else {
            throw ValidationError("NAME: \"\(name)\" must be 1..200 bytes, without \"/\", not starting with \".\"")
        }
    }

    func run() throws {
        guard CurveKeyPair.isSupported else { throw ValidationError("this libzmq was built without CURVE") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let cert = try CurveCertificate.generate(name: name)
        do {
            try cert.writePair(directory: directory, name: name)
        } catch {
            throw ValidationError("\(error)")
        }
        let base = (directory as NSString).appendingPathComponent(name)
        print("wrote \(base).key (public: give it out) and \(base).key_secret (secret, mode 0600: keep it where the key is used)")
        print("public key \(cert.publicKey)")
    }
}
