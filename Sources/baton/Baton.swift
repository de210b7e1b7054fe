import ArgumentParser
import BatonLogging
import CBatonLibc
import Foundation
import Logging

@main
struct Baton: ParsableCommand {
    static let version = "1.0.0 (protocol BATON/1, BATON-W/1)"

    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "Baton: a durable workflow service for operations tooling.",
        discussion: """
            The handshake: `baton submit FILE` stores a workflow and prints its ID (nothing runs), \
            `baton exec ID` starts it. `baton run FILE` does both, journaling the ID in between.

            Environment: BATON_BROKER, BATON_TIMEOUT_MS, BATON_RETRIES, BATON_CURVE_SERVER and \
            BATON_CURVE_SECRET stand in for the client flags of the same name, BATON_JOURNAL for \
            --journal, BATON_WORKER_BROKER for `baton worker --broker`, BATON_CONFIG for \
            `baton broker --config`; a flag given wins. NO_COLOR turns colour off (it is only ever \
            used on a terminal).

            \(ExitStatus.table)
            """,
        version: version,
        subcommands: [
            BrokerCommand.self, WorkerCommandLine.self, SubmitCommand.self, ExecCommand.self, StatusCommand.self,
            WatchCommand.self, CancelCommand.self, ListCommand.self, RunCommand.self, ResumeCommand.self, PingCommand.self, KeygenCommand.self,
            StopCommand.self, GoCommand.self, LimitsCommand.self, StatsCommand.self, WorkersCommand.self, BackupCommand.self, DbCommand.self, WebCommand.self, ConfigCommand.self, PolicyCommand.self,
        ])

    /// Parses, then runs with the exit-code table: usage errors (from parsing and
    /// `validate()`) print the usage banner and exit 64; errors found while running print
    /// one `error:` line and exit with their code, without a banner.
    static func main() {
        // Live output when redirected (`> run.log`, `| tee`, CI logs): each line is
        // written as it is printed, not when a 4 KiB buffer fills or the process ends.
        baton_line_buffer_stdout()
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error as ValidationError {
            fail(error.message, .usage)
        } catch let error as InputError {
            fail(error.description, .usage)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // The parser's own (`baton` alone, `--help` reaching a command group): it prints them.
            exit(withError: error)
        } catch {
            fail("\(error)", .broker)
        }
        Foundation.exit(ExitStatus.success.rawValue)
    }

    private static func fail(_ message: String, _ status: ExitStatus) -> Never {
        printError("error: \(message)")
        Foundation.exit(status.rawValue)
    }
}

/// Sets up swift-log once for the process, writing lines to standard error
/// (`BatonLogging.LogLineHandler`): the one place every long-running command (`broker`,
/// `worker`, `web`) calls, so their lines share the timestamp, the levels and the
/// formats. `format` defaults to text, the format a command had before `--log-format`.
func bootstrapLogging(level: String, format: LogFormat = .text) {
    LoggingSystem.bootstrap { label in
        LogLineHandler(label: label, format: format, logLevel: Logger.Level(rawValue: level) ?? .info)
    }
}

/// Checks a `--log-format` value, naming the flag (the config key is checked by BatonConfig).
func checkLogFormat(_ value: String, flag: String) throws {
    guard LogFormat(rawValue: value) != nil else {
        throw ValidationError("\(flag): \"\(value)\" is not a log format (\(LogFormat.names))")
    }
}
