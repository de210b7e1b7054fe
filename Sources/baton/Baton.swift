import ArgumentParser
import Logging

@main
struct Baton: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "Baton: a durable workflow service for operations tooling.",
        discussion: """
            The handshake: `baton submit FILE` stores a workflow and prints its ID (nothing runs), \
            `baton exec ID` starts it. `baton run FILE` does both, journaling the ID in between.
            """,
        subcommands: [
            BrokerCommand.self, WorkerCommandLine.self, SubmitCommand.self, ExecCommand.self, StatusCommand.self,
            WatchCommand.self, CancelCommand.self, ListCommand.self, RunCommand.self, ResumeCommand.self, PingCommand.self, KeygenCommand.self,
            StopCommand.self, GoCommand.self, LimitsCommand.self, ConfigCommand.self, PolicyCommand.self,
        ])
}

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "The broker's client endpoint.")
    var broker = "tcp://127.0.0.1:5555"

    @Option(help: "Milliseconds to wait for each reply before retrying on a fresh socket.")
    var timeoutMs = 5000

    @Option(help: "Tries per request before giving up.")
    var retries = 3

    @Option(name: [.customLong("curve-server"), .customLong("curve-server-key")],
            help: "The broker's public certificate (its NAME.key) or Z85 public key, when the broker runs CURVE.")
    var curveServer: String?

    @Option(help: "This client's secret certificate (NAME.key_secret); its NAME.key must be in the broker's clients or admins allowlist.")
    var curveSecret: String?
}

/// Sets up swift-log once, writing to standard error.
func bootstrapLogging(level: String) {
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = Logger.Level(rawValue: level) ?? .info
        return h
    }
}
