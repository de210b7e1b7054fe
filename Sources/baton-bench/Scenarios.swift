import BatonStore
import BatonWire
import Foundation
import Histogram
import ZeroMQ

/// Sizes and durations of one mode.
struct Plan {
    var warmupSeconds: Double
    var measureSeconds: Double
    var zmqSeconds: Double
    var zmqSamples: Int
    var storeSecondsEach: Double
    var submitLatencySamples: Int
    var execLatencySamples: Int
    var e2eBudget: Int
    var e2eMaxSubmitSeconds: Double
    var scaleSteps: [Int]
    var statusSamples: Int
    var restartRunning: Int
    /// SUBMITTED workflows stored for the restart-over-SUBMITTED figure.
    var restartSubmitted: Int
    /// One-workflow-at-a-time samples (Baton's and the peer's).
    var roundTripSamples: Int
    /// Tasks in the peer's throughput run.
    var peerTasks: Int

    static let quick = Plan(
        warmupSeconds: 0.5, measureSeconds: 1.5, zmqSeconds: 1, zmqSamples: 2000, storeSecondsEach: 0.6,
        submitLatencySamples: 1000, execLatencySamples: 500, e2eBudget: 10_000, e2eMaxSubmitSeconds: 3,
        scaleSteps: [10_000, 100_000], statusSamples: 500, restartRunning: 10_000,
        restartSubmitted: 100_000, roundTripSamples: 200, peerTasks: 2000)

    static let full = Plan(
        warmupSeconds: 1, measureSeconds: 5, zmqSeconds: 3, zmqSamples: 10_000, storeSecondsEach: 2,
        submitLatencySamples: 10_000, execLatencySamples: 5000, e2eBudget: 50_000, e2eMaxSubmitSeconds: 10,
        scaleSteps: [10_000, 100_000, 1_000_000], statusSamples: 5000, restartRunning: 10_000,
        restartSubmitted: 1_000_000, roundTripSamples: 1000, peerTasks: 20_000)
}

/// The scenarios, in the order they run. Each starts its own broker on a fresh database
/// (and its own workers), and stops them whatever happens.
final class Bench {
    let options: Options
    let plan: Plan
    let report = Report()
    let runId = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    var zmq: ZMQLimits?
    var store: StoreLimits?
    var sqlite: RawSQLiteLimits?
    /// The peer's figures, when the peer scenario ran.
    var peerResult: PeerResult?

    /// Connections and window for the handshake and end-to-end runs.
    let handshakeConnections = 16
    let handshakeWindow = 64
    let workerCapacity = 64

    init(options: Options) {
        self.options = options
        plan = options.quick ? .quick : .full
    }

    var settings: [String: String] {
        var s: [String: String] = [
            "Mode": options.quick
                ? "quick: \(plan.measureSeconds) s windows after \(plan.warmupSeconds) s warm-up; stored-workflow steps \(plan.scaleSteps.map { grouped(Double($0)) }.joined(separator: ", ")) (the 1,000,000 step runs only in the full mode)"
                : "full: \(plan.measureSeconds) s windows after \(plan.warmupSeconds) s warm-up; stored-workflow steps \(plan.scaleSteps.map { grouped(Double($0)) }.joined(separator: ", "))",
            "Load generator": "Swift, in-process: pipelined DEALER connections over tcp 127.0.0.1, spread over at most 2 threads (one zmq_poll each); SUBMIT bodies pre-encoded with a distinct idempotency_key each; replies decoded with BatonWire",
            "Windows": "SUBMIT runs: \(options.window) requests in flight per connection; handshake and end-to-end runs: \(handshakeConnections) connections × \(handshakeWindow)",
            "Broker": "`baton broker --log-level warning --max-submitted \(grouped(Double(BrokerProcess.maxSubmitted)))` (the SUBMIT runs store hundreds of thousands of workflows never EXEC'd, which the default quota of 10,000 SUBMITTED refuses; defaults otherwise: heartbeat 1000 ms, 256 messages per socket per turn), a fresh SQLite file per scenario (WAL, synchronous=FULL)",
            "Workers": "`baton worker --types echo --capacity \(workerCapacity)` processes (one thread per job)",
        ]
        if options.quick { s["Skipped in quick mode"] = "1,000,000 stored workflows (the RSS comparison uses 100,000)" }
        return s
    }

    // MARK: Helpers

    func withBroker<T>(_ body: (BrokerProcess) throws -> T) throws -> T {
        let b = try BrokerProcess(baton: options.baton, root: options.tmp, config: options.brokerConfig)
        defer { b.destroy() }
        try b.start()
        return try body(b)
    }

    func loadConfig(_ b: BrokerProcess, connections: Int, window: Int, flow: LoadConfig.Flow, name: String,
                    budget: Int? = nil, collectIds: Bool = false) -> LoadConfig {
        LoadConfig(
            endpoint: b.clientEndpoint, connections: connections, threads: min(connections, 2), window: window,
            flow: flow, template: SubmitTemplate(workflow: SubmitTemplate.echoWorkflow(name: name)),
            keyPrefix: "\(name)-\(runId)", warmupSeconds: budget == nil ? plan.warmupSeconds : 0,
            measureSeconds: budget == nil ? plan.measureSeconds : plan.e2eMaxSubmitSeconds, budget: budget,
            collectIds: collectIds)
    }

    func workersCPU(_ ws: [ChildProcess]) -> Double { ws.reduce(0) { $0 + ($1.cpuSeconds ?? 0) } }

    func section(_ title: String) { print("\n== \(title)") }

    /// Runs one scenario; an error becomes an error row and the run goes on.
    func attempt(_ id: String, _ section: String, _ name: String, target: String? = nil, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            report.failed(id, section, name, target: target, "\(error)")
        }
    }

    // MARK: Raw limits

    func limits() {
        section("raw limits")
        do {
            let z = try measureRawZMQ(warmupSeconds: 0.3, seconds: plan.zmqSeconds, window: options.window, samples: plan.zmqSamples)
            zmq = z
            report.limit("zmq_rtt_per_s", "ZeroMQ ROUTER/DEALER round trips/s, pipelined", z.roundTripsPerSecond, "1/s",
                         rate(z.roundTripsPerSecond),
                         notes: "project's ZeroMQ module, 2 threads in one process, tcp 127.0.0.1, 5-frame BATON/1 PING, \(options.window) in flight")
            let p = Percentiles(z.latency)
            report.latencies["zmq_rtt"] = p
            report.limit("zmq_rtt_latency", "ZeroMQ round trip, one at a time", p.p50, "µs", p.text, notes: "same sockets, one message in flight")
        } catch {
            report.problem("raw ZeroMQ limit: \(error)")
        }
        do {
            let dir = try makeTempDir(options.tmp, "limits")
            defer { removeTree(dir) }
            let full = try measureRawSQLite(dir: dir, synchronous: "FULL", secondsEach: plan.storeSecondsEach)
            sqlite = full
            let how = "SQLite \(full.version) C API (no GRDB), fresh file, WAL"
            report.limit("sqlite_full_commits_per_s", "SQLite commits/s, single row, synchronous=FULL", full.singleRowCommitsPerSecond,
                         "1/s", rate(full.singleRowCommitsPerSecond), notes: "\(how); one prepared INSERT (~140-byte row, rowid key) per transaction")
            let p = Percentiles(full.singleRowLatency)
            report.latencies["sqlite_full_commit"] = p
            report.limit("sqlite_full_commit_latency", "SQLite commit latency, single row, synchronous=FULL", p.p50, "µs", p.text,
                         notes: "the same transactions, BEGIN to COMMIT")
            report.limit("sqlite_full_batched_rows_per_s", "SQLite rows/s, 1000 rows per commit, synchronous=FULL",
                         full.batchedRowsPerSecond, "1/s", rate(full.batchedRowsPerSecond), notes: "\(how); the same INSERT, 1000 per transaction")
            let normal = try measureRawSQLite(dir: dir, synchronous: "NORMAL", secondsEach: plan.storeSecondsEach / 2)
            report.limit("sqlite_normal_commits_per_s", "SQLite commits/s, single row, synchronous=NORMAL (contrast)",
                         normal.singleRowCommitsPerSecond, "1/s", rate(normal.singleRowCommitsPerSecond),
                         notes: "as above without the fsync per commit: what durability costs on this disk")
        } catch {
            report.problem("raw SQLite limit: \(error)")
        }
        do {
            let dir = try makeTempDir(options.tmp, "store")
            defer { removeTree(dir) }
            let s = try measureStore(dir: dir, secondsEach: plan.storeSecondsEach)
            store = s
            let how = "BatonStore `Store.apply` (GRDB), opened as the broker opens it, fresh file; only `apply` timed; per workflow its row, as one SUBMIT writes (its first event has no row since schema v8; a job has no row before its first retry, failure, cancel or stop since schema v9)"
            report.limit("store_submit_commits_per_s", "Store path: SUBMIT-shaped commits/s, 1 workflow per commit",
                         s.singleWorkflowCommitsPerSecond, "1/s", rate(s.singleWorkflowCommitsPerSecond), notes: how)
            let pw = Percentiles(s.singleWorkflowLatency)
            report.latencies["store_submit_commit"] = pw
            report.limit("store_submit_commit_latency", "Store path: SUBMIT-shaped commit latency", pw.p50, "µs", pw.text,
                         notes: "the same commits")
            if let q = sqlite, pw.p50 < Percentiles(q.singleRowLatency).p50 / 2 {
                report.problem("the store path commits a SUBMIT in \(us(pw.p50)) (p50), under half a bare synchronous=FULL commit (\(us(Percentiles(q.singleRowLatency).p50))): check that the store really fsyncs each commit")
            }
            report.limit("store_submit_batched_per_s", "Store path: SUBMIT-shaped writes/s, 1000 workflows per commit",
                         s.batchedWorkflowsPerSecond, "1/s", rate(s.batchedWorkflowsPerSecond),
                         notes: "\(how); the ceiling the store sets on SUBMIT with one transaction per turn")
        } catch {
            report.problem("store path limit: \(error)")
        }
    }

    /// Ratios of an operation rate to the ceilings it sits on: SQLite rows (at `rows`
    /// rows written per operation), the store path (SUBMIT only), ZeroMQ round trips.
    func ratios(perSecond: Double, roundTrips: Double, rows: Double, storePath: Bool = false) -> [Ratio] {
        var out: [Ratio] = []
        if let q = sqlite {
            out.append(Ratio(basis: "SQLite batched rows (\(Int(rows)) rows/op)", value: perSecond * rows / q.batchedRowsPerSecond))
        }
        if storePath, let s = store { out.append(Ratio(basis: "store path", value: perSecond / s.batchedWorkflowsPerSecond)) }
        if let z = zmq {
            out.append(Ratio(basis: "ZeroMQ (\(Int(roundTrips)) rtt/op)", value: perSecond * roundTrips / z.roundTripsPerSecond))
        }
        return out
    }

    /// The floor under one durable request: a single-row FULL commit plus a ZeroMQ round trip (p50s).
    var latencyFloorUs: Double? {
        guard let q = sqlite, let z = zmq else { return nil }
        return Percentiles(q.singleRowLatency).p50 + Percentiles(z.latency).p50
    }

    // MARK: Durable throughput

    func submitThroughput(connections: Int) {
        let sectionName = "Durable throughput"
        let name = "SUBMIT→ID/s, \(connections) pipelined connection\(connections == 1 ? "" : "s")"
        let target = connections >= 16 ? "≥ 30,000 /s" : nil
        attempt("submit_per_s_\(connections)", sectionName, name, target: target) {
            try withBroker { b in
                let r = try runLoad(loadConfig(b, connections: connections, window: options.window, flow: .submit,
                                               name: "bench-submit-\(connections)"), brokerPid: b.pid)
                if let p = r.problem { throw BenchError(p) }
                if ProcessInfo.processInfo.environment["BATON_BENCH_TIMELINE"] != nil { print("  timeline per 100 ms: \(r.timeline)") }
                let v = r.perSecond
                report.add(Figure(
                    id: "submit_per_s_\(connections)", section: sectionName, name: name, value: v, unit: "1/s", display: rate(v),
                    target: target, pass: target == nil ? nil : v >= 30_000,
                    ratios: ratios(perSecond: v, roundTrips: 1, rows: 1, storePath: true),
                    notes: "\(connections * options.window) in flight; slope of completions over the \(plan.measureSeconds) s window (count ÷ window: \(rate(r.meanPerSecond))); broker CPU \(pct(r.brokerCPUSeconds / r.windowSeconds)) of a core, \(us(r.brokerCPUSeconds * 1e6 / Double(max(r.measured, 1)))) per SUBMIT; generator CPU \(pct(r.generatorCPUSeconds / r.windowSeconds)); \(r.othersText); broker RSS after \(grouped(Double(r.completed))) SUBMITTED: \(mib(b.rssKB))",
                    timeline: r.timeline))
            }
        }
    }

    func handshakeThroughput() {
        let sectionName = "Durable throughput"
        let name = "Handshake SUBMIT→ID→EXEC→STATUS/s"
        attempt("handshake_per_s", sectionName, name) {
            try withBroker { b in
                let r = try runLoad(loadConfig(b, connections: handshakeConnections, window: handshakeWindow, flow: .handshake,
                                               name: "bench-handshake"), brokerPid: b.pid)
                if let p = r.problem { throw BenchError(p) }
                let v = r.perSecond
                report.add(Figure(
                    id: "handshake_per_s", section: sectionName, name: name, value: v, unit: "1/s", display: rate(v),
                    ratios: ratios(perSecond: v, roundTrips: 2, rows: 4),
                    notes: "\(handshakeConnections) connections × \(handshakeWindow); count ÷ window: \(rate(r.meanPerSecond)); no worker connected (workflows stay RUNNING); broker CPU \(pct(r.brokerCPUSeconds / r.windowSeconds)), \(us(r.brokerCPUSeconds * 1e6 / Double(max(r.measured, 1)))) per handshake; generator CPU \(pct(r.generatorCPUSeconds / r.windowSeconds)); \(r.othersText)",
                    timeline: r.timeline))
            }
        }
    }

    // MARK: End to end

    func endToEnd(workers count: Int) {
        let sectionName = "End to end"
        let name = "One-job workflows/s, \(count) worker process\(count == 1 ? "" : "es")"
        let target = count == 2 ? "≥ 10,000 /s" : nil
        attempt("e2e_per_s_\(count)", sectionName, name, target: target) {
            try withBroker { b in
                let workers = try b.startWorkers(count, capacity: workerCapacity)
                defer { stopAll(workers) }
                sleepMs(300)
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                // Warm-up: every worker connected and its threads started.
                let warm = try runLoad(loadConfig(b, connections: 4, window: 32, flow: .handshake, name: "bench-e2e-warm",
                                                  budget: 1000), brokerPid: b.pid)
                if let p = warm.problem { throw BenchError("warm-up: \(p)") }
                _ = try client.waitAllFinished(name: "bench-e2e-warm", timeoutSeconds: 60)
                let rss0 = b.rssKB
                struct Round { var n: Int; var seconds: Double; var handshakes: Double; var broker: Double; var workers: Double; var rss: Int }
                func round(_ wfName: String) throws -> Round {
                    let cpuB0 = b.cpuSeconds, cpuW0 = workersCPU(workers)
                    let r = try runLoad(loadConfig(b, connections: handshakeConnections, window: handshakeWindow, flow: .handshake,
                                                   name: wfName, budget: plan.e2eBudget), brokerPid: b.pid)
                    if let p = r.problem { throw BenchError(p) }
                    let done = try client.waitAllFinished(name: wfName, everyMs: 2, timeoutSeconds: 300)
                    let cpuB = b.cpuSeconds - cpuB0, cpuW = workersCPU(workers) - cpuW0
                    let succeeded = try client.count(name: wfName, state: .succeeded)
                    guard succeeded == r.completed else {
                        throw BenchError("\(r.completed) workflows started but \(succeeded) SUCCEEDED")
                    }
                    return Round(n: r.completed, seconds: Double(done - r.startNs) / 1e9,
                                 handshakes: Double(r.lastCompletionNs - r.startNs) / 1e9, broker: cpuB, workers: cpuW, rss: b.rssKB)
                }
                let first = try round("bench-e2e-\(count)w")
                let n = Double(first.n)
                let v = n / first.seconds
                report.add(Figure(
                    id: "e2e_per_s_\(count)", section: sectionName, name: name, value: v, unit: "1/s", display: rate(v),
                    target: target, pass: target == nil ? nil : v >= 10_000,
                    ratios: ratios(perSecond: v, roundTrips: 3, rows: 9),
                    notes: "\(grouped(n)) workflows, first SUBMIT → all SUCCEEDED in \(String(format: "%.2f", first.seconds)) s (handshakes done after \(String(format: "%.2f", first.handshakes)) s); broker CPU \(us(first.broker * 1e6 / n)) per workflow (\(pct(first.broker / first.seconds)) of a core), workers \(us(first.workers * 1e6 / n)); broker RSS \(mib(rss0)) after the warm-up → \(mib(first.rss)) after them"))
                guard count == 2 else { return }
                // The same load again on the same broker: memory that finished workflows kept would show here.
                let second = try round("bench-e2e-\(count)w-again")
                // Allocator noise is a few MiB; retention shows as bytes per extra workflow.
                let growthKB = second.rss - first.rss
                let bytesPerWorkflow = Double(growthKB) * 1024 / Double(second.n)
                let ok = growthKB <= max(4096, Int(50 * Double(second.n) / 1024))
                report.add(Figure(
                    id: "e2e_rss_second_round", section: sectionName,
                    name: "Broker RSS after \(grouped(n)) vs \(grouped(n + Double(second.n))) finished end-to-end workflows",
                    value: Double(growthKB), unit: "kB",
                    display: "\(mib(first.rss)) → \(mib(second.rss)) (\(signedMiB(growthKB)), \(String(format: "%.0f", bytesPerWorkflow)) B per extra workflow)",
                    target: "does not grow", pass: ok,
                    notes: "the 2-worker run repeated on the same broker (second round: \(rate(Double(second.n) / second.seconds))); both rounds peak alike in unfinished workflows held in memory; pass when RSS grows by at most max(4 MiB, 50 B per extra workflow), so the quick mode's 10,000 extra workflows cannot show a small per-workflow retention"))
            }
        }
    }

    // MARK: Fan-out

    func fanOut(blocks: Int, jobsPerBlock: Int) {
        let sectionName = "Fan-out (2 worker processes)"
        let label = "\(blocks) block\(blocks == 1 ? "" : "s") × \(grouped(Double(jobsPerBlock))) jobs"
        let jobs = blocks * jobsPerBlock
        attempt("fanout_\(blocks)x\(jobsPerBlock)_cpu_per_job", sectionName, "\(label): broker CPU per job", target: "≤ 20 µs") {
            try withBroker { b in
                let workers = try b.startWorkers(2, capacity: workerCapacity)
                defer { stopAll(workers) }
                sleepMs(300)
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                func run(_ name: String, blocks: Int, jobsPerBlock: Int) throws -> (wall: Double, broker: Double, workers: Double) {
                    let body = SubmitTemplate(workflow: SubmitTemplate.echoWorkflow(name: name, blocks: blocks, jobsPerBlock: jobsPerBlock))
                        .body(key: Array("\(name)-\(runId)".utf8))
                    let cpuB0 = b.cpuSeconds, cpuW0 = workersCPU(workers)
                    let t0 = nowNs()
                    let idReply = try client.request(.submit, bodyBytes: body, timeoutMs: 60_000)
                    guard idReply.command == .id, let id = idReply.body["id"]?.stringValue else {
                        throw BenchError("SUBMIT: \(describe(idReply))")
                    }
                    _ = try client.call(.exec, ["id": .string(id)], expect: .status, timeoutMs: 60_000)
                    let done = try client.waitAllFinished(name: name, everyMs: 5, timeoutSeconds: 600)
                    let wall = Double(done - t0) / 1e9
                    let status = try client.call(.status, ["id": .string(id)], expect: .status, timeoutMs: 60_000)
                    guard status["state"]?.stringValue == "SUCCEEDED" else {
                        throw BenchError("the workflow ended \(status["state"]?.stringValue ?? "?"): \(status["reason"]?.stringValue ?? "")")
                    }
                    return (wall, b.cpuSeconds - cpuB0, workersCPU(workers) - cpuW0)
                }
                _ = try run("bench-fanout-warm", blocks: 1, jobsPerBlock: 500)
                let r = try run("bench-fanout-\(blocks)x\(jobsPerBlock)", blocks: blocks, jobsPerBlock: jobsPerBlock)
                let perJob = r.broker * 1e6 / Double(jobs)
                var rs: [Ratio] = []
                if let q = sqlite {
                    // Per job the broker writes 2 rows' worth: job.dispatched and job.succeeded (with its
                    // output); since schema v9 neither makes a job row.
                    rs.append(Ratio(basis: "SQLite batched rows (2 rows/job)", value: perJob / (2e6 / q.batchedRowsPerSecond)))
                }
                report.add(Figure(
                    id: "fanout_\(blocks)x\(jobsPerBlock)_wall", section: sectionName, name: "\(label): wall time",
                    value: r.wall, unit: "s", display: String(format: "%.2f s (%@ per job, %@)", r.wall, us(r.wall * 1e6 / Double(jobs)), rate(Double(jobs) / r.wall, "jobs/s")),
                    notes: "SUBMIT → all SUCCEEDED (LIST polled every 5 ms); concurrency = jobs per block; workers' CPU \(us(r.workers * 1e6 / Double(jobs))) per job"))
                report.add(Figure(
                    id: "fanout_\(blocks)x\(jobsPerBlock)_cpu_per_job", section: sectionName, name: "\(label): broker CPU per job",
                    value: perJob, unit: "µs", display: us(perJob), target: "≤ 20 µs", pass: perJob <= 20, ratios: rs,
                    notes: "broker utime+stime (/proc/<pid>/stat) over the run ÷ \(grouped(Double(jobs))) jobs; includes parsing the SUBMIT, the EXEC's STATUS reply and the LIST polls"))
            }
        }
    }

    // MARK: Latency at low load

    func latency() {
        let sectionName = "Latency at low load (one request at a time)"
        attempt("latency", sectionName, "SUBMIT→ID and EXEC→first JOB", target: "p99 ≤ 2 ms") {
            try withBroker { b in
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                let template = SubmitTemplate(workflow: SubmitTemplate.echoWorkflow(name: "bench-latency"))
                var h = latencyHistogram()
                let warm = 100
                for i in 0..<(plan.submitLatencySamples + warm) {
                    let body = template.body(key: Array("lat-\(runId)-\(i)".utf8))
                    let t0 = nowNs()
                    let reply = try client.request(.submit, bodyBytes: body)
                    let dt = nowNs() - t0
                    guard reply.command == .id else { throw BenchError("SUBMIT: \(describe(reply))") }
                    if i >= warm { h.record(dt / 1000) }
                }
                let p = Percentiles(h)
                report.latencies["submit_id"] = p
                let floor = latencyFloorUs
                report.add(Figure(
                    id: "submit_latency_p99", section: sectionName, name: "SUBMIT→ID latency", value: p.p99, unit: "µs",
                    display: p.text, target: "p99 ≤ 2 ms", pass: p.p99 <= 2000,
                    ratios: floor.map { [Ratio(basis: "commit+rtt p50", value: p.p50 / $0)] } ?? [],
                    notes: "one DEALER, one request in flight, \(warm) warm-up requests dropped; HdrHistogram, 3 digits"))

                let hj = try execToJob(b, client: client, context: context, template: template)
                let pj = Percentiles(hj)
                report.latencies["exec_first_job"] = pj
                report.add(Figure(
                    id: "exec_job_latency_p99", section: sectionName, name: "EXEC→first JOB at a worker", value: pj.p99, unit: "µs",
                    display: pj.text, ratios: floor.map { [Ratio(basis: "commit+rtt p50", value: pj.p50 / $0)] } ?? [],
                    notes: "the bench is the worker (a DEALER speaking BATON-W/1: READY, RESULT for each JOB); time from sending EXEC to the JOB arriving"))
            }
        }
    }

    /// The bench as a worker: READY on the worker endpoint, then for each sample a
    /// SUBMIT (untimed), EXEC, and the time until its JOB arrives; answers with RESULT.
    func execToJob(_ b: BrokerProcess, client: WireClient, context: Context, template: SubmitTemplate) throws -> Histogram<UInt64> {
        let worker = try context.socket(.dealer)
        defer { worker.close(linger: 0) }
        try worker.setLinger(0)
        try worker.connect(b.workerEndpoint)
        var poller = try Poller([.socket(worker)])
        func sendW(_ command: WorkerCommand, _ body: [String: JSONValue]) throws {
            try worker.send(WorkerFrames.encode(.init(command, body)))
        }
        /// The next message from the broker other than HEARTBEAT.
        func next(timeoutMs: Int) throws -> WorkerFrames.Message? {
            let deadline = nowNs() + UInt64(timeoutMs) * 1_000_000
            while nowNs() < deadline {
                if let frames = try worker.receive(dontWait: true) {
                    let m = try WorkerFrames.decode(frames[...])
                    if m.command == .heartbeat { continue }
                    return m
                }
                _ = try poller.poll(timeoutMs: 10)
            }
            return nil
        }
        try sendW(.ready, ReadyBody(worker: "bench-probe", types: ["echo"], capacity: 1000).body)
        // The broker answers READY with a HEARTBEAT: then the worker is registered.
        let registerDeadline = nowNs() + 5_000_000_000
        var registered = false
        while !registered && nowNs() < registerDeadline {
            if let frames = try worker.receive(dontWait: true) {
                registered = (try? WorkerFrames.decode(frames[...]).command) == .heartbeat
            } else {
                _ = try poller.poll(timeoutMs: 10)
            }
        }
        guard registered else { throw BenchError("the bench worker got no HEARTBEAT after READY") }
        var h = latencyHistogram()
        var lastBeat = nowNs()
        let warm = 50
        for i in 0..<(plan.execLatencySamples + warm) {
            let sub = try client.request(.submit, bodyBytes: template.body(key: Array("latx-\(runId)-\(i)".utf8)))
            guard sub.command == .id, let id = sub.body["id"]?.stringValue else { throw BenchError("SUBMIT: \(describe(sub))") }
            let t0 = nowNs()
            let tag = try client.send(.exec, bodyBytes: JSONWriter.bytes(["id": .string(id)]))
            guard let job = try next(timeoutMs: 10_000) else { throw BenchError("no JOB within 10 s of EXEC \(id)") }
            let dt = nowNs() - t0
            guard job.command == .job else { throw BenchError("worker got \(job.command.rawValue) instead of JOB") }
            if i >= warm { h.record(dt / 1000) }
            guard let status = try client.awaitReply(tag: tag, timeoutMs: 10_000), status.command == .status else {
                throw BenchError("EXEC \(id): no STATUS reply")
            }
            let body = try JobBody(body: job.body)
            try sendW(.result, ResultBody(jobId: body.jobId, attempt: body.attempt, ok: true, output: ["bench": true]).body)
            if nowNs() - lastBeat > 300_000_000 {
                try sendW(.heartbeat, [:])
                lastBeat = nowNs()
            }
        }
        try? sendW(.disconnect, [:])
        return h
    }
}
