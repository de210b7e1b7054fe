// baton-bench: drives a real broker (and real worker processes) with a Swift load
// generator and measures the raw limits beside it. `scripts/bench` builds and runs it;
// `baton-bench --help` lists the flags (Options.swift).
//
// Writes DIR/latest.json and DIR/latest.md and prints the table.

import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@main
struct BatonBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-bench",
        abstract: "Baton's benchmark: a real broker and real workers under a Swift load generator, with the raw ZeroMQ and SQLite limits beside them.",
        discussion: "Exits 0 when every scenario ran clean, 1 when the results list problems (or cannot be written).")

    @OptionGroup var options: Options

    func run() throws {
        let status = runBench(options)
        if status != 0 { throw ExitCode(status) }
    }
}

/// Runs the scenarios `options` selects and writes the results; returns the exit status.
func runBench(_ options: Options) -> Int32 {
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
    func wanted(_ s: String) -> Bool { options.selected?.contains(s) ?? true }

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
    if wanted("roundtrip") {
        bench.section("one workflow at a time")
        bench.roundTrip()
    }
    if wanted("peer") {
        bench.section("peer")
        bench.peer()
    }
    if wanted("peer") || wanted("roundtrip") || wanted("submit") {
        bench.comparePeer()
    }
    if wanted("scale") { bench.storedScale() }
    if wanted("restart") {
        bench.restart()
        bench.restartSubmitted()
    }
    killAllChildren()

    let wall = Double(nowNs() - started) / 1e9
    let machine1 = Proc.machineCPU()
    let others = max(0, (machine1.busy - machine0.busy) - (Proc.selfAndChildrenCPUSeconds() - ours0))
    var settings = bench.settings
    settings["CPU outside the bench"] = String(
        format: "%.0f%% of one core on average during the run (machine busy time minus the bench and its brokers and workers); steal %.0f%%",
        others / wall * 100, (machine1.steal - machine0.steal) / wall * 100)
    settings["Load average (1, 5, 15 min)"] = "\(loadBefore) at start, \(Proc.loadAverage()) at the end (the machine may be shared: the bench's own processes count too)"
    if let only = options.selected { settings["Scenarios run"] = only.sorted().joined(separator: ", ") }
    settings["Broker config"] = options.brokerConfig ?? "none (everything allowed, no limits)"
    let results = BenchResults(
        mode: options.quick ? "quick" : "full", date: date, command: options.commandLine, commit: options.commit,
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
