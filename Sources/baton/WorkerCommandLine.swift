import ArgumentParser
import BatonLogging
import BatonWorker
import Foundation
import Logging
import Synchronization
import ZeroMQ

struct WorkerCommandLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker with the built-in job types: echo, sleep, fail, file.write, append, shell.")

    @Option(name: .customLong("broker"), help: "The broker's worker endpoint (default $BATON_WORKER_BROKER, else tcp://127.0.0.1:5556).")
    var brokerFlag: String?

    @Option(help: "Comma-separated job types to take (shell needs --shell-allow; file.write and append need --file-root).")
    var types = "echo,sleep,fail"

    @Option(help: "Most jobs run at once.")
    var capacity = 4

    @Option(help: "Name shown in the broker's log and events (default: host-pid).")
    var name: String?

    @Option(help: "Comma-separated programs the shell job type may run; empty keeps shell off.")
    var shellAllow = ""

    @Option(help: ArgumentHelp(
        "The directory file.write and append write under; their paths are relative to it.",
        discussion: "Absolute paths, .. components, symbolic links out of it and special files are refused. Without it those types are off.",
        valueName: "dir"))
    var fileRoot: String?

    @Option(name: [.customLong("curve-server"), .customLong("curve-server-key")],
            help: "The broker's public certificate (its NAME.key) or Z85 public key, when the broker runs CURVE (default $BATON_CURVE_SERVER).")
    var curveServerFlag: String?

    @Option(name: .customLong("curve-secret"),
            help: "This worker's secret certificate (NAME.key_secret); its NAME.key must be in the broker's workers allowlist (default $BATON_CURVE_SECRET).")
    var curveSecretFlag: String?

    var broker: String { brokerFlag ?? environment("BATON_WORKER_BROKER") ?? "tcp://127.0.0.1:5556" }
    var curveServer: String? { curveServerFlag ?? environment("BATON_CURVE_SERVER") }
    var curveSecret: String? { curveSecretFlag ?? environment("BATON_CURVE_SECRET") }

    @Option(help: "Seconds a stopping worker (SIGTERM, SIGINT) lets its running jobs finish while it takes no new ones; a second signal leaves at once. 0: leave at once.")
    var drainTimeout = 30

    @Option(help: "Log level.")
    var logLevel = "info"

    @Option(help: "Log lines on standard error: text (for people) or json (one object per line, with job_id and attempt where a line names a job, for journald and log shippers).")
    var logFormat = "text"

    func validate() throws {
        try checkEndpoint(broker, flag: brokerFlag != nil ? "--broker" : "BATON_WORKER_BROKER")
        try checkLogFormat(logFormat, flag: "--log-format")
        guard (0...86_400).contains(drainTimeout) else { throw ValidationError("--drain-timeout must be between 0 and 86400 seconds") }
        guard (1...10_000).contains(capacity) else { throw ValidationError("--capacity must be between 1 and 10000") }
        let known = Set(BuiltinJobs.names)
        for t in typeList where !known.contains(t) {
            throw ValidationError("--types: unknown job type \"\(t)\"; built-in types are \(BuiltinJobs.names.joined(separator: ", "))")
        }
        if typeList.isEmpty { throw ValidationError("--types: name at least one job type") }
        if typeList.contains("shell") && allowList.isEmpty {
            throw ValidationError("--types: shell needs --shell-allow with the programs it may run")
        }
        if let fileType = typeList.first(where: BuiltinJobs.fileTypes.contains), fileRoot == nil {
            throw ValidationError("--types: \(fileType) needs --file-root with the directory its paths are relative to")
        }
        _ = try confinement()
    }

    /// The checked `--file-root`, nil when not given.
    func confinement() throws -> FileRoot? {
        guard let fileRoot else { return nil }
        do {
            return try FileRoot(fileRoot)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    var typeList: [String] { types.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    var allowList: [String] { shellAllow.split(separator: ",").map(String.init).filter { !$0.isEmpty } }

    func run() throws {
        bootstrapLogging(level: logLevel, format: LogFormat(rawValue: logFormat) ?? .text)
        let logger = Logger(label: "baton.worker")
        let root = try confinement()
        let all = BuiltinJobs.handlers(shellAllow: allowList, fileRoot: root)
        let handlers = all.filter { typeList.contains($0.key) }
        let workerName = name ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        var options = Worker.Options(endpoint: broker, name: workerName, capacity: capacity)
        options.drainTimeout = .seconds(drainTimeout)
        options.curve = try curveKeys(server: curveServer, secret: curveSecret)
        let worker = try Worker(options: options, handlers: handlers, logger: logger)
        // The first SIGTERM/SIGINT drains (rolling a fleet re-runs nothing); a second, or
        // --drain-timeout 0, leaves at once (the broker retries what was running).
        let signalled = Mutex(0)
        let drain = drainTimeout > 0
        let signals = SignalStopper(onSignal: { name in
            let count = signalled.withLock { n -> Int in
                n += 1
                return n
            }
            if count == 1 && drain {
                worker.requestDrain()
            } else {
                logger.info("\(name) again: leaving now")
                worker.requestStop()
            }
        })
        logger.info("worker \(workerName) connecting to \(broker): types \(handlers.keys.sorted().joined(separator: ",")), capacity \(capacity)\(root.map { ", file root \($0.path)" } ?? "")")
        try worker.run()
        withExtendedLifetime(signals) {}
    }
}
