import BatonStore
import BatonWire
import Foundation
import Histogram
import ZeroMQ

/// Scale: a broker over many stored, finished workflows (RSS, STATUS latency), and a
/// restart with many RUNNING workflows.
extension Bench {
    /// Writes finished (SUCCEEDED) one-job workflows `range` into the database at `path`
    /// through `Store.apply`, 10,000 per transaction: the rows a real run leaves (workflow,
    /// job with its output, and the 7 events), without the time it takes to run them.
    func fillFinished(path: String, range: Range<Int>, salt: UInt64, baseMs: Int64) throws {
        let store = try Store(path: path)
        let spec = try WorkflowSpec.parse(SubmitTemplate.echoWorkflow(name: "bench-scale"))
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(i + 10_000, range.upperBound)
            var batch = WriteBatch()
            batch.inserted.reserveCapacity(end - i)
            batch.events.reserveCapacity((end - i) * 7)
            for n in i..<end {
                let t = baseMs + Int64(n)
                let id = scaleId(n, salt: salt, baseMs: baseMs)
                let job = JobRecord(state: .succeeded, attempt: 1, output: ["bench": true], startedAt: t + 1, finishedAt: t + 2)
                batch.inserted.append(WorkflowRecord(
                    id: id, spec: spec, idempotencyKey: "scale-\(salt)-\(n)", state: .succeeded, submittedAt: t,
                    startedAt: t + 1, finishedAt: t + 3, lastEvent: 7, jobs: [[job]]))
                let jobFields: [String: JSONValue] = ["block": 0, "job": 0, "job_id": .string("\(id).0.0"), "attempt": 1]
                var dispatched = jobFields
                dispatched["worker"] = "bench-0"
                let events: [WorkflowEvent] = [
                    WorkflowEvent(seq: 1, at: t, kind: .workflowSubmitted, fields: ["name": "bench-scale"]),
                    WorkflowEvent(seq: 2, at: t + 1, kind: .workflowRunning),
                    WorkflowEvent(seq: 3, at: t + 1, kind: .blockStarted, fields: ["block": 0]),
                    WorkflowEvent(seq: 4, at: t + 1, kind: .jobDispatched, fields: dispatched),
                    WorkflowEvent(seq: 5, at: t + 2, kind: .jobSucceeded, fields: jobFields),
                    WorkflowEvent(seq: 6, at: t + 2, kind: .blockSucceeded, fields: ["block": 0]),
                    WorkflowEvent(seq: 7, at: t + 3, kind: .workflowSucceeded),
                ]
                for e in events { batch.events.append((id, EventRow(e))) }
            }
            try store.apply(batch)
            i = end
        }
    }

    /// Writes SUBMITTED one-job workflows `range` (keyed, owner "bench", 24 h expiry) with
    /// their `workflow.submitted` event, 10,000 per transaction: what a tool that only
    /// submits leaves behind.
    func fillSubmitted(path: String, range: Range<Int>, salt: UInt64, baseMs: Int64) throws {
        let store = try Store(path: path)
        let spec = try WorkflowSpec.parse(SubmitTemplate.echoWorkflow(name: "bench-submitted"))
        var i = range.lowerBound
        while i < range.upperBound {
            let end = min(i + 10_000, range.upperBound)
            var batch = WriteBatch()
            for n in i..<end {
                let t = baseMs + Int64(n)
                let id = scaleId(n, salt: salt, baseMs: baseMs)
                batch.inserted.append(WorkflowRecord(id: id, spec: spec, idempotencyKey: "submitted-\(salt)-\(n)", owner: "bench",
                                                     submittedAt: t, expiresAt: t + 86_400_000, lastEvent: 1))
                batch.events.append((id, EventRow(WorkflowEvent(seq: 1, at: t, kind: .workflowSubmitted, fields: ["name": "bench-submitted"]))))
            }
            try store.apply(batch)
            i = end
        }
        try store.close()
    }

    func scaleId(_ n: Int, salt: UInt64, baseMs: Int64) -> String {
        FakeULID.make(ms: UInt64(baseMs + Int64(n)), salt: salt, n: UInt64(n))
    }

    func storedScale() {
        let sectionName = "Scale and restart"
        section("scale: stored finished workflows")
        var rssByStep: [(Int, Int)] = []
        do {
            let dir = try makeTempDir(options.tmp, "scale")
            defer { removeTree(dir) }
            let db = "\(dir)/baton.db"
            let salt = UInt64.random(in: 0..<(1 << 40))
            // A day ago: inside the broker's default retention (30 days), which would
            // otherwise delete these finished workflows as soon as it starts.
            let baseMs = Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000
            var stored = 0
            for step in plan.scaleSteps {
                let name = "\(grouped(Double(step))) finished workflows stored"
                let t0 = nowNs()
                try fillFinished(path: db, range: stored..<step, salt: salt, baseMs: baseMs)
                let fillSeconds = Double(nowNs() - t0) / 1e9
                print("  filled \(grouped(Double(step - stored))) workflows in \(String(format: "%.1f", fillSeconds)) s")
                stored = step
                let b = try BrokerProcess(baton: options.baton, root: dir, dbPath: db, config: options.brokerConfig)
                defer { b.destroy() }
                let startSeconds = try b.start()
                let rssIdle = b.rssKB
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                var h = latencyHistogram()
                for _ in 0..<plan.statusSamples {
                    let id = scaleId(Int.random(in: 0..<stored), salt: salt, baseMs: baseMs)
                    let t = nowNs()
                    let reply = try client.request(.status, ["id": .string(id)])
                    let dt = nowNs() - t
                    guard reply.command == .status, reply.body["state"]?.stringValue == "SUCCEEDED" else {
                        throw BenchError("STATUS \(id): \(describe(reply))")
                    }
                    h.record(dt / 1000)
                }
                let rss = b.rssKB
                rssByStep.append((step, rss))
                let p = Percentiles(h)
                let poll = try listPollLatency(client, samples: plan.statusSamples / 5)
                report.latencies["list_poll_\(step)_stored"] = poll
                report.add(Figure(
                    id: "list_poll_latency_\(step)_stored", section: sectionName, name: "LIST poll latency, \(name)",
                    value: poll.p99, unit: "µs", display: poll.text,
                    notes: "LIST name=bench-scale state=SUBMITTED limit 1, one at a time (a dashboard's \"anything queued?\"; none is): read on the event loop"))
                report.latencies["status_\(step)_stored"] = p
                let dbMB = Double(fileSize(db)) / 1_048_576
                report.add(Figure(
                    id: "rss_\(step)_stored", section: sectionName, name: "Broker RSS, \(name)", value: Double(rss), unit: "kB",
                    display: mib(rss),
                    notes: "VmRSS after \(plan.statusSamples) STATUS of random ids (\(mib(rssIdle)) idle after start); database \(String(format: "%.0f", dbMB)) MB, filled through Store.apply in \(String(format: "%.1f", fillSeconds)) s; start to first PONG \(String(format: "%.2f", startSeconds)) s"))
                report.add(Figure(
                    id: "status_latency_\(step)_stored", section: sectionName, name: "STATUS latency, \(name)", value: p.p99,
                    unit: "µs", display: p.text,
                    ratios: zmq.map { [Ratio(basis: "ZeroMQ rtt p50", value: p.p50 / Percentiles($0.latency).p50)] } ?? [],
                    notes: "random finished ids, one at a time: read from SQLite after the turn"))
            }
        } catch {
            report.failed("scale", sectionName, "Stored workflows", "\(error)")
        }
        if let first = rssByStep.first, let last = rssByStep.last, last.0 > first.0 {
            let growth = Double(last.1 - first.1)
            let ok = Double(last.1) <= Double(first.1) * 1.2 + 4096
            report.add(Figure(
                id: "rss_growth", section: sectionName,
                name: "RSS growth, \(grouped(Double(first.0))) → \(grouped(Double(last.0))) finished stored",
                value: growth, unit: "kB", display: "\(signedMiB(Int(growth))) (\(mib(first.1)) → \(mib(last.1)))",
                target: "does not grow", pass: ok,
                notes: "pass when RSS at \(grouped(Double(last.0))) ≤ 1.2 × RSS at \(grouped(Double(first.0))) + 4 MiB (SQLite's page cache is bounded)"))
        }
    }

    /// The latency of LIST polls for a name's SUBMITTED workflows where all of its stored
    /// workflows are finished: what a dashboard asks every few seconds.
    func listPollLatency(_ client: WireClient, samples: Int) throws -> Percentiles {
        var h = latencyHistogram()
        for _ in 0..<max(1, samples) {
            let t = nowNs()
            let reply = try client.request(.list, ["name": "bench-scale", "state": "SUBMITTED", "limit": 1])
            let dt = nowNs() - t
            guard reply.command == .list, reply.body["workflows"]?.arrayValue?.isEmpty == true else {
                throw BenchError("LIST: \(describe(reply))")
            }
            h.record(dt / 1000)
        }
        return Percentiles(h)
    }

    /// A broker restarted over many SUBMITTED workflows (the probe of issue 12: 1,000,000
    /// took 57 s to the first PONG and 1.1 GB): spawn → first PONG, then an EXEC of one of
    /// them (which loads it) → RUNNING.
    func restartSubmitted() {
        let sectionName = "Scale and restart"
        let count = plan.restartSubmitted
        section("restart with \(grouped(Double(count))) SUBMITTED workflows")
        attempt("restart_submitted_ping_s", sectionName, "Restart with \(grouped(Double(count))) SUBMITTED → first PONG", target: "≤ 2 s") {
            try withBroker { b in
                b.stop()
                let salt = UInt64.random(in: 0..<(1 << 40))
                let baseMs = Int64(Date().timeIntervalSince1970 * 1000)
                let fillStart = nowNs()
                try fillSubmitted(path: b.dbPath, range: 0..<count, salt: salt, baseMs: baseMs)
                print("  stored \(grouped(Double(count))) SUBMITTED in \(String(format: "%.1f", Double(nowNs() - fillStart) / 1e9)) s")
                let toPing = try b.start()
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                let id = scaleId(Int.random(in: 0..<count), salt: salt, baseMs: baseMs)
                let t = nowNs()
                let status = try client.call(.exec, ["id": .string(id)], expect: .status)
                let execMs = Double(nowNs() - t) / 1e6
                guard status["state"]?.stringValue == "RUNNING" else {
                    throw BenchError("EXEC after the restart left \(id) \(status["state"]?.stringValue ?? "?")")
                }
                report.add(Figure(
                    id: "restart_submitted_ping_s", section: sectionName,
                    name: "Restart with \(grouped(Double(count))) SUBMITTED → first PONG",
                    value: toPing, unit: "s", display: String(format: "%.3f s", toPing), target: "≤ 2 s", pass: toPing <= 2,
                    notes: "spawn → first PONG over a store of only SUBMITTED workflows (restored dormant: id, owner, expiry); RSS after: \(mib(b.rssKB)); the first EXEC of one (loads it) took \(String(format: "%.1f", execMs)) ms"))
            }
        }
    }

    func restart() {
        let sectionName = "Scale and restart"
        let count = plan.restartRunning
        section("restart with \(grouped(Double(count))) RUNNING workflows")
        attempt("restart_status_s", sectionName, "Restart with \(grouped(Double(count))) RUNNING → STATUS answered", target: "≤ 2 s") {
            try withBroker { b in
                let name = "bench-restart"
                var cfg = loadConfig(b, connections: handshakeConnections, window: handshakeWindow, flow: .handshake, name: name,
                                     budget: count, collectIds: true)
                cfg.measureSeconds = 120
                let r = try runLoad(cfg, brokerPid: b.pid)
                if let p = r.problem { throw BenchError(p) }
                guard r.ids.count == count else { throw BenchError("\(r.ids.count) of \(count) workflows started") }
                let rssRunning = b.rssKB
                b.kill9()
                let serving = try b.start()
                let spawnToPing = serving
                let context = try Context()
                let client = try WireClient(context: context, endpoint: b.clientEndpoint)
                let id = r.ids.randomElement()!
                let t = nowNs()
                let status = try client.call(.status, ["id": .string(id)], expect: .status)
                let toStatus = spawnToPing + Double(nowNs() - t) / 1e9
                guard status["state"]?.stringValue == "RUNNING" else {
                    throw BenchError("after the restart \(id) is \(status["state"]?.stringValue ?? "?")")
                }
                let running = try client.count(name: name, state: .running)
                guard running == count else { throw BenchError("after the restart \(running) of \(count) are RUNNING") }
                report.add(Figure(
                    id: "restart_ping_s", section: sectionName, name: "Restart with \(grouped(Double(count))) RUNNING → first PONG",
                    value: spawnToPing, unit: "s", display: String(format: "%.3f s", spawnToPing),
                    notes: "SIGKILL, then spawn → first PONG (the probe reconnects every 10 ms); RSS with them in memory: \(mib(rssRunning)) before, \(mib(b.rssKB)) after the restart"))
                report.add(Figure(
                    id: "restart_status_s", section: sectionName, name: "Restart with \(grouped(Double(count))) RUNNING → STATUS answered",
                    value: toStatus, unit: "s", display: String(format: "%.3f s", toStatus), target: "≤ 2 s", pass: toStatus <= 2,
                    notes: "spawn → first PONG + one STATUS of a random RUNNING id; all \(grouped(Double(count))) RUNNING after it (LIST); made over the wire (SUBMIT+EXEC, no worker connected)"))
            }
        }
    }
}

/// "+1.2 MiB", "-0.3 MiB", "±0.0 MiB".
func signedMiB(_ kb: Int) -> String {
    let text = mib(abs(kb))
    if text == "0.0 MiB" { return "±0.0 MiB" }
    return (kb < 0 ? "-" : "+") + text
}
