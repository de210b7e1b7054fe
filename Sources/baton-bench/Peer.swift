import BatonWire
import Foundation
import Histogram
import ZeroMQ

/// What `bench/peer/huey_peer.py` writes: a peer job queue measured on this machine in
/// the same run, so Baton's figures can be read as ratios that do not depend on the
/// machine's speed that hour.
struct PeerResult: Codable {
    struct RoundTrip: Codable {
        var n: Int
        var p50_us: Double
        var p99_us: Double
        var p999_us: Double
        var max_us: Double
        var mean_us: Double
    }
    var peer: String
    var version: String
    var storage: String
    var consumer: String
    var get: String
    var tasks: Int
    var seconds: Double
    var per_s: Double
    var roundtrip: RoundTrip
    /// A 4 KiB overwrite + fdatasync, before the throughput run and after the round
    /// trips: each peer task is four fsynced commits, so its speed follows this.
    struct Sync: Codable { var p50_us: Double }
    var disk_fdatasync_us: [String: Sync]?
    var notes: String?
}

/// The round trip a user sees, and the comparison with a peer measured in the same run.
extension Bench {
    static let peerSection = "Against a peer (same run, same machine)"

    // MARK: Round trip

    /// One workflow at a time with a real worker process: SUBMIT → ID → EXEC → STATUS,
    /// then WATCH long-polls until the reply's state is SUCCEEDED. The time is what a
    /// client waiting on one operation sees, from sending SUBMIT to seeing it succeed.
    func roundTrip() {
        let sectionName = "Latency at low load (one request at a time)"
        let name = "One workflow at a time, SUBMIT → SUCCEEDED seen"
        attempt("roundtrip", sectionName, name) {
            try withBroker { b in
                let workers = try b.startWorkers(1, capacity: workerCapacity)
                defer { stopAll(workers) }
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                let template = SubmitTemplate(workflow: SubmitTemplate.echoWorkflow(name: "bench-roundtrip"))
                var h = latencyHistogram()
                let warm = 50
                for i in 0..<(plan.roundTripSamples + warm) {
                    let t0 = nowNs()
                    try runOne(client, body: template.body(key: Array("rt-\(runId)-\(i)".utf8)))
                    if i >= warm { h.record((nowNs() - t0) / 1000) }
                }
                let p = Percentiles(h)
                report.latencies["roundtrip"] = p
                let floor = latencyFloorUs
                report.add(Figure(
                    id: "roundtrip_p50", section: sectionName, name: name, value: p.p50, unit: "µs", display: p.text,
                    ratios: floor.map { [Ratio(basis: "commit+rtt p50", value: p.p50 / $0)] } ?? [],
                    notes: "one DEALER, one workflow in flight, 1 `baton worker` process; SUBMIT, EXEC, then WATCH (wait_ms 10000, after the last seq seen) until the reply says SUCCEEDED; \(warm) warm-up workflows dropped"))
            }
        }
    }

    /// SUBMIT, EXEC, and WATCH until the workflow is SUCCEEDED; throws on anything else.
    private func runOne(_ client: WireClient, body: [UInt8]) throws {
        let sub = try client.request(.submit, bodyBytes: body)
        guard sub.command == .id, let id = sub.body["id"]?.stringValue else { throw BenchError("SUBMIT: \(describe(sub))") }
        _ = try client.call(.exec, ["id": .string(id)], expect: .status)
        var after: Int64 = 0
        while true {
            let events = try client.call(.watch, ["id": .string(id), "after": .int(after), "wait_ms": 10_000],
                                         expect: .events, timeoutMs: 15_000)
            let state = events["state"]?.stringValue ?? "?"
            if state == WorkflowState.succeeded.rawValue { return }
            guard state == WorkflowState.running.rawValue else { throw BenchError("workflow \(id) ended \(state)") }
            if let last = events["events"]?.arrayValue?.last?.objectValue?["seq"]?.intValue { after = last }
        }
    }

    // MARK: Peer

    /// Runs the peer script (Huey with its SQLite storage, see bench/peer/huey_peer.py)
    /// as a child process and records its figures; `comparePeer` turns them into ratios.
    func peer() {
        let sectionName = Self.peerSection
        attempt("peer", sectionName, "Peer: Huey one-task jobs/s, 2 worker threads") {
            guard let python = options.python ?? findInPath("python3") else {
                throw BenchError("no python3 on PATH (pass --python)")
            }
            guard FileManager.default.fileExists(atPath: options.peerScript) else {
                throw BenchError("no peer script at \(options.peerScript)")
            }
            let dir = try makeTempDir(options.tmp, "peer")
            defer { removeTree(dir) }
            let out = "\(dir)/peer.json"
            let p = try ChildProcess.spawn(
                name: "peer", executable: python,
                arguments: [options.peerScript, "--dir", dir, "--json", out, "--tasks", String(plan.peerTasks),
                            "--roundtrips", String(plan.roundTripSamples), "--workers", "2"],
                logPath: "\(dir)/peer.log")
            let deadline = nowNs() + 600 * 1_000_000_000
            while p.isRunning {
                guard nowNs() < deadline else {
                    p.stop()
                    throw BenchError("the peer script ran over 600 s; log:\n\(p.logTail())")
                }
                sleepMs(50)
            }
            guard p.exitStatus == 0, let data = FileManager.default.contents(atPath: out) else {
                throw BenchError("the peer script failed; \(p.logPath) ends with:\n\(p.logTail())")
            }
            let r = try JSONDecoder().decode(PeerResult.self, from: data)
            peerResult = r
            report.add(Figure(
                id: "peer_per_s", section: sectionName, name: "Peer: \(r.peer) \(r.version) one-task jobs/s, 2 worker threads",
                value: r.per_s, unit: "1/s", display: rate(r.per_s),
                notes: "\(grouped(Double(r.tasks))) tasks enqueued from one producer, then every result fetched in order; first enqueue → last result in \(String(format: "%.2f", r.seconds)) s; \(r.storage); `\(r.consumer)`; `\(r.get)`\(syncText(r))"))
            let rt = r.roundtrip
            report.add(Figure(
                id: "peer_roundtrip_p50", section: sectionName, name: "Peer: \(r.peer) one task at a time, enqueue → result",
                value: rt.p50_us, unit: "µs",
                display: "p50 \(us(rt.p50_us)) · p99 \(us(rt.p99_us)) · p99.9 \(us(rt.p999_us)) · max \(us(rt.max_us)) (n=\(rt.n))",
                notes: "enqueue, then get(blocking=True); nearest-rank percentiles"))
        }
    }

    /// The disk's fdatasync p50 around the peer's run, which its throughput follows.
    private func syncText(_ r: PeerResult) -> String {
        guard let s = r.disk_fdatasync_us, let before = s["before_throughput"], let after = s["after_roundtrips"] else { return "" }
        return "; disk fdatasync p50 \(us(before.p50_us)) before, \(us(after.p50_us)) after (each task is 4 fsynced commits)"
    }

    /// The issue-17 targets that are ratios within this run: Baton's figure against the
    /// peer's and against the store's own ceiling. Each needs both sides from this run;
    /// a missing side is said, not guessed. A ratio whose scenarios were not selected
    /// (`--only`) is left out.
    func comparePeer() {
        func figure(_ id: String) -> Figure? { report.figures.first { $0.id == id && $0.value != nil } }
        ratio("peer_ratio_e2e", "One-job workflows/s with 2 worker processes ÷ peer jobs/s", target: "≥ 10× the peer",
              needs: ["e2e", "peer"]) {
            guard let peer = peerResult, let e2e = figure("e2e_per_s_2")?.value else { return nil }
            let r = e2e / peer.per_s
            return (r, String(format: "%.1f× (%@ ÷ %@)", r, rate(e2e), rate(peer.per_s)), r >= 10,
                    "both measured in this run: Baton's end-to-end figure above (16 connections × 64 handshakes, 2 `baton worker` processes) and the peer's")
        }
        ratio("peer_ratio_roundtrip", "One workflow at a time p50 ÷ peer's one task at a time p50",
              target: "≤ 1 (p50 no worse than the peer's)", needs: ["roundtrip", "peer"]) {
            guard let peer = peerResult, let rt = figure("roundtrip_p50")?.value else { return nil }
            let r = rt / peer.roundtrip.p50_us
            return (r, String(format: "%.2f× (%@ ÷ %@)", r, us(rt), us(peer.roundtrip.p50_us)), r <= 1,
                    "SUBMIT → SUCCEEDED seen (WATCH) against enqueue → result (get)")
        }
        ratio("submit_ratio_store", "Best durable SUBMIT→ID/s ÷ the store's batched-write ceiling", target: "≥ 0.5",
              needs: ["limits", "submit"]) {
            guard let best = [1, 16, 64].compactMap({ figure("submit_per_s_\($0)")?.value }).max(), let store else { return nil }
            let r = best / store.batchedWorkflowsPerSecond
            return (r, String(format: "%.2f (%@ ÷ %@)", r, rate(best), rate(store.batchedWorkflowsPerSecond)), r >= 0.5,
                    "the best of the 1, 16 and 64-connection SUBMIT runs above ÷ the store path's SUBMIT-shaped writes/s at 1000 per commit (raw limits)")
        }
    }

    /// One ratio row of the peer section: left out when its scenarios were not selected,
    /// an error row when `compute` finds a side missing (nil).
    private func ratio(_ id: String, _ name: String, target: String, needs scenarios: [String],
                       _ compute: () -> (value: Double, display: String, pass: Bool, notes: String)?) {
        guard scenarios.allSatisfy({ options.selected?.contains($0) ?? true }) else { return }
        guard let r = compute() else {
            report.failed(id, Self.peerSection, name, target: target,
                          "one side is missing (see the \(scenarios.joined(separator: " and ")) rows)")
            return
        }
        report.add(Figure(id: id, section: Self.peerSection, name: name, value: r.value, unit: "×", display: r.display,
                          target: target, pass: r.pass, notes: r.notes))
    }
}

/// The first executable `name` on PATH (posix_spawn does not search PATH).
func findInPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") where !dir.isEmpty {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
