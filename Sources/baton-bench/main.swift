// baton-bench: drives a real broker (and real worker processes) with a Swift load
// generator and measures the raw limits beside it. `scripts/bench` builds and runs it.
//
//   baton-bench --baton PATH [--quick] [--out DIR] [--tmp DIR] [--window N]
//               [--command TEXT] [--commit TEXT] [--sqlite TEXT] [--toolchain TEXT]
//               [--pid-file PATH] [--only a,b,...]
//
// Writes DIR/latest.json and DIR/latest.md and prints the table.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var baton = ""
    var quick = false
    var out = "bench/results"
    var tmp = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    var window = 64
    var command = "baton-bench " + CommandLine.arguments.dropFirst().joined(separator: " ")
    var commit = "unknown"
    var sqlite = "unknown"
    var toolchain = "unknown"
    var pidFile: String?
    /// Scenario names to run (development aid); nil runs all.
    var only: Set<String>?

    static let scenarios = ["limits", "submit", "handshake", "latency", "e2e", "fanout", "scale", "restart"]

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw BenchError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--baton": o.baton = try value()
            case "--quick": o.quick = true
            case "--out": o.out = try value()
            case "--tmp": o.tmp = try value()
            case "--window":
                guard let w = Int(try value()), w >= 1, w <= 10_000 else { throw BenchError("--window: 1...10000") }
                o.window = w
            case "--command": o.command = try value()
            case "--commit": o.commit = try value()
            case "--sqlite": o.sqlite = try value()
            case "--toolchain": o.toolchain = try value()
            case "--pid-file": o.pidFile = try value()
            case "--only":
                let names = Set(try value().split(separator: ",").map(String.init))
                for n in names where !scenarios.contains(n) {
                    throw BenchError("--only: unknown scenario \(n); one of \(scenarios.joined(separator: ","))")
                }
                o.only = names
            case "-h", "--help":
                print("usage: baton-bench --baton PATH [--quick] [--out DIR] [--tmp DIR] [--window N] [--only \(scenarios.joined(separator: ","))]")
                exit(0)
            default:
                throw BenchError("unknown argument \(args[i])")
            }
            i += 1
        }
        guard !o.baton.isEmpty else { throw BenchError("--baton PATH (the release `baton` binary) is required") }
        guard FileManager.default.isExecutableFile(atPath: o.baton) else { throw BenchError("--baton \(o.baton): not an executable") }
        return o
    }
}

func main() -> Int32 {
    let options: Options
    do {
        options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("baton-bench: \(error)\n".utf8))
        return 2
    }
    installSignalCleanup()
    pidFilePath = options.pidFile
    signal(SIGPIPE, SIG_IGN)

    let started = nowNs()
    let loadBefore = Proc.loadAverage()
    let machine0 = Proc.machineCPU()
    let ours0 = Proc.selfAndChildrenCPUSeconds()
    let machine = Machine.describe(tempRoot: options.tmp)
    let bench = Bench(options: options)
    let date = ISO8601DateFormatter().string(from: Date())
    print("baton-bench (\(options.quick ? "quick" : "full")): \(machine.cpus) CPUs, \(machine.cpuModel), Linux \(machine.kernel); databases on \(machine.databaseFilesystem)")
    if machine.databaseFilesystem.hasPrefix("tmpfs") {
        bench.report.problem("the temporary directory is on tmpfs: fsync costs nothing there, so durable figures are not durable; pass --tmp on a real disk")
    }
    func wanted(_ s: String) -> Bool { options.only?.contains(s) ?? true }

    if wanted("limits") { bench.limits() }
    if wanted("submit") {
        bench.section("durable SUBMIT→ID")
        for c in [1, 16, 64] { bench.submitThroughput(connections: c) }
    }
    if wanted("handshake") {
        bench.section("handshake")
        bench.handshakeThroughput()
    }
    if wanted("latency") {
        bench.section("latency at low load")
        bench.latency()
    }
    if wanted("e2e") {
        bench.section("end to end")
        for w in [1, 2, 4] { bench.endToEnd(workers: w) }
    }
    if wanted("fanout") {
        bench.section("fan-out")
        bench.fanOut(blocks: 1, jobsPerBlock: 10_000)
        bench.fanOut(blocks: 100, jobsPerBlock: 100)
    }
    if wanted("scale") { bench.storedScale() }
    if wanted("restart") { bench.restart() }
    killAllChildren()

    let wall = Double(nowNs() - started) / 1e9
    let machine1 = Proc.machineCPU()
    let others = max(0, (machine1.busy - machine0.busy) - (Proc.selfAndChildrenCPUSeconds() - ours0))
    var settings = bench.settings
    settings["CPU outside the bench"] = String(
        format: "%.0f%% of one core on average during the run (machine busy time minus the bench and its brokers and workers); steal %.0f%%",
        others / wall * 100, (machine1.steal - machine0.steal) / wall * 100)
    settings["Load average (1, 5, 15 min)"] = "\(loadBefore) at start, \(Proc.loadAverage()) at the end (the machine may be shared: the bench's own processes count too)"
    if let only = options.only { settings["Scenarios run"] = only.sorted().joined(separator: ", ") }
    let results = BenchResults(
        mode: options.quick ? "quick" : "full", date: date, command: options.command, commit: options.commit,
        machine: machine, sqlite: bench.sqlite?.version ?? options.sqlite, toolchain: options.toolchain, settings: settings,
        limits: bench.report.limits, figures: bench.report.figures, latencies: bench.report.latencies,
        problems: bench.report.problems, totalSeconds: Double(nowNs() - started) / 1e9)
    let markdown = bench.report.markdown(results)
    print("\n" + markdown)
    do {
        try FileManager.default.createDirectory(atPath: options.out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(results).write(to: URL(fileURLWithPath: "\(options.out)/latest.json"))
        try Data(markdown.utf8).write(to: URL(fileURLWithPath: "\(options.out)/latest.md"))
        print("wrote \(options.out)/latest.json and \(options.out)/latest.md")
    } catch {
        FileHandle.standardError.write(Data("baton-bench: cannot write results: \(error)\n".utf8))
        return 1
    }
    return bench.report.problems.isEmpty ? 0 : 1
}

exit(main())
