import ArgumentParser
import BatonClient
import BatonWire

/// Which names a stop or a go covers: `--all` (every name, "*") or `--name NAME`.
struct StopTarget: ParsableArguments {
    @Flag(help: "Every workflow name.") var all = false
    @Option(help: "One workflow name.") var name: String?

    func validate() throws {
        guard all != (name != nil) else { throw ValidationError("give exactly one of --all and --name NAME") }
        if name == StopRequest.everyName { throw ValidationError("--name: use --all for every name") }
    }

    var wireName: String { all ? StopRequest.everyName : name ?? "" }
    var described: String { all ? "every workflow" : "workflows named \"\(name ?? "")\"" }
}

struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Emergency stop: RUNNING workflows of a name (or of all) stop at once; SUBMIT and EXEC of it are refused.",
        discussion: """
            Running jobs get CANCEL at their workers and go back to PENDING (the attempt does not count toward \\
            max_attempts). The stop is stored and survives restarts until `baton go`. After it, `baton exec ID` \\
            (or `baton resume`) continues a STOPPED workflow where it stopped; SUCCEEDED jobs never run again.
            """)

    @OptionGroup var target: StopTarget
    @Option(help: "Why: shown to every client the stop refuses, and in each stopped workflow's reason.") var reason: String
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if reason.isEmpty { throw ValidationError("--reason: must not be empty") }
    }

    func run() throws {
        let n = try withClient(client) { try $0.stop(name: target.wireName, reason: reason) }
        print("stopped \(target.described): \(n) RUNNING workflow(s) moved to STOPPED; SUBMIT and EXEC refused until `baton go`")
    }
}

struct GoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "go", abstract: "Lift an emergency stop (RESUME). Starts nothing: EXEC continues each STOPPED workflow.",
        discussion: "`--all` lifts the stop of every name only; a stop of one name stays until `baton go --name NAME`.")

    @OptionGroup var target: StopTarget
    @OptionGroup var client: ClientOptions

    func run() throws {
        try withClient(client) { try $0.resume(name: target.wireName) }
        print("lifted the stop of \(target.described); `baton exec ID` or `baton resume` continues STOPPED workflows")
    }
}
