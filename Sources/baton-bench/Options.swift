import ArgumentParser
import Foundation

/// The command line `scripts/bench` and `scripts/profile` pass; both spell these flags,
/// so a renamed flag breaks them.
struct Options: ParsableArguments {
    /// Every scenario, in the order they run.
    static let scenarios = ["limits", "submit", "handshake", "latency", "e2e", "fanout", "scale", "restart", "roundtrip", "peer"]

    @Option(help: ArgumentHelp("The release `baton` binary the brokers and workers run.", valueName: "path"))
    var baton: String

    @Flag(help: "Short windows, and no 1,000,000-workflow step (under a minute).")
    var quick = false

    @Option(help: ArgumentHelp("Where latest.json and latest.md go.", valueName: "dir"))
    var out = "bench/results"

    @Option(help: ArgumentHelp("Where the temporary databases go; a real disk, not tmpfs.", valueName: "dir"))
    var tmp = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"

    @Option(help: ArgumentHelp("SUBMITs in flight per connection (1...10000).", valueName: "n"))
    var window = 64

    // Free text recorded in the results as given: `.unconditional` so a value that starts
    // with "-" is taken as the value, not as a flag.
    @Option(parsing: .unconditional, help: ArgumentHelp("The command line to record (default: this one).", valueName: "text"))
    var command: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The commit to record.", valueName: "text"))
    var commit = "unknown"

    @Option(parsing: .unconditional, help: ArgumentHelp("The SQLite version to record if the limits scenario does not run.", valueName: "text"))
    var sqlite = "unknown"

    @Option(parsing: .unconditional, help: ArgumentHelp("The toolchain to record.", valueName: "text"))
    var toolchain = "unknown"

    @Option(name: .customLong("pid-file"), help: ArgumentHelp("Append the pid of every child process here (for scripts/bench's last-resort cleanup).", valueName: "path"))
    var pidFile: String?

    @Option(help: ArgumentHelp("A broker config file (policies, limits) every broker of the run starts with (`baton broker --config`).", valueName: "path"))
    var brokerConfig: String?

    @Option(help: ArgumentHelp("The Python that runs the peer script (default: python3 on PATH).", valueName: "path"))
    var python: String?

    @Option(name: .customLong("peer-script"), help: ArgumentHelp("The peer measured in the same run (Huey with its SQLite storage).", valueName: "path"))
    var peerScript = "bench/peer/huey_peer.py"

    @Option(help: ArgumentHelp("Run only these scenarios (a development aid): \(Options.scenarios.joined(separator: ",")).", valueName: "a,b,..."))
    var only: String?

    /// The scenarios `--only` names; nil runs all.
    var selected: Set<String>? {
        only.map { Set($0.split(separator: ",").map(String.init)) }
    }

    var commandLine: String {
        command ?? "baton-bench " + CommandLine.arguments.dropFirst().joined(separator: " ")
    }

    func validate() throws {
        guard FileManager.default.isExecutableFile(atPath: baton) else {
            throw ValidationError("--baton \(baton): not an executable")
        }
        guard (1...10_000).contains(window) else { throw ValidationError("--window: 1...10000, not \(window)") }
        if let selected {
            let unknown = selected.subtracting(Options.scenarios).sorted()
            guard unknown.isEmpty else {
                throw ValidationError(
                    "--only: unknown scenario\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")); "
                        + "one of \(Options.scenarios.joined(separator: ","))")
            }
        }
    }
}
