import ArgumentParser
import BatonClient
import BatonWire

/// `baton stats`: the broker's statistics (STATS, spec §4.3.10), for people or, with
/// `--json`, the reply as the broker sent it.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the broker's statistics: workflows by state, queues per job type, workers, counters since start, commit latency, memory.",
        discussion: "An admin command when the broker uses keys. `baton workers` shows the workers alone.")

    @Flag(help: "Print the STATS reply as JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let body = try withClient(client) { try $0.stats() }
        if json { return printJSON(.object(body)) }
        print(StatsRenderer.render(body))
    }
}

/// `baton workers`: the workers connected to the broker now (from STATS).
struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers", abstract: "List the workers connected to the broker: types, capacity, running attempts, draining, last seen.",
        discussion: "An admin command when the broker uses keys (it reads STATS).")

    @Flag(help: "Print {\"workers\": [...]} as in the STATS reply.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let body = try withClient(client) { try $0.stats() }
        let workers = body["workers"]?.arrayValue ?? []
        if json { return printJSON(["workers": .array(workers)]) }
        for line in StatsRenderer.workerTable(workers) { print(line) }
    }
}
