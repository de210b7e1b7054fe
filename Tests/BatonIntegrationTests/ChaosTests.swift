import BatonClient
import BatonStore
import BatonWire
import Foundation
import XCTest

/// Hundreds of workflows while the broker is SIGKILLed at random moments and workers
/// are killed and restarted again and again. Every job appends each execution to a
/// file, so the test can count at-least-once re-runs and prove that nothing recorded
/// SUCCEEDED ever ran again. Sized by BATON_CHAOS_WORKFLOWS (default 300).
final class ChaosTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }
    override func tearDown() { cluster.stopAll() }

    /// What the submitting clients saw, shared between their threads.
    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var received: [String] = []  // every ID a client received
        private(set) var executed: [String] = []  // every ID whose EXEC was answered
        func add(received id: String) { lock.withLock { received.append(id) } }
        func add(executed id: String) { lock.withLock { executed.append(id) } }
        var snapshot: (received: [String], executed: [String]) { lock.withLock { (received, executed) } }
    }

    func testChaos() throws {
        let total = Int(ProcessInfo.processInfo.environment["BATON_CHAOS_WORKFLOWS"] ?? "") ?? 300
        let started = Date()
        // `append` writes under the workers' --file-root: a directory of its own, away
        // from the database an append could otherwise reach.
        let files = cluster.dir.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: false)
        let execLog = files.appendingPathComponent("executions.jsonl").path
        var broker = try cluster.startBroker()
        var workers: [Process] = []
        var workerSerial = 0
        func startWorker() throws {
            workerSerial += 1
            workers.append(try cluster.startWorker(types: "append", capacity: 4, name: "chaos-\(workerSerial)",
                                                   fileRoot: files.path))
        }
        for _ in 0..<4 { try startWorker() }

        @Sendable func spec(_ i: Int) -> WorkflowSpec {
            WorkflowSpec(name: "chaos", blocks: (0..<3).map { b in
                BlockSpec(concurrency: 2, jobs: (0..<3).map { j in
                    JobSpec(type: "append", args: ["path": "executions.jsonl", "line": .string("wf \(i) block \(b) job \(j)"),
                                                   "ms": .int(Int64(5 + (i + j) % 20))],
                            retry: RetryPolicy(maxAttempts: 30, backoffMs: 20))
                })
            })
        }

        // Clients: submit and EXEC every workflow, retrying through broker outages.
        let ledger = Ledger()
        let endpoint = cluster.clientEndpoint
        let clientsDone = DispatchGroup()
        let clientThreads = 2
        for t in 0..<clientThreads {
            clientsDone.enter()
            Thread.detachNewThread {
                defer { clientsDone.leave() }
                guard let client = try? BatonClient(endpoint: endpoint, timeoutMs: 1000, attempts: 2) else { return }
                for i in stride(from: t, to: total, by: clientThreads) {
                    let deadline = Date().addingTimeInterval(60)
                    var id: String?
                    while id == nil && Date() < deadline {
                        id = try? client.submit(spec(i), idempotencyKey: "chaos-\(i)").id
                    }
                    guard let id else { continue }
                    ledger.add(received: id)
                    var execd = false
                    while !execd && Date() < deadline {
                        execd = (try? client.exec(id)) != nil
                    }
                    if execd { ledger.add(executed: id) }
                    Thread.sleep(forTimeInterval: 0.12)
                }
            }
        }

        // Chaos: SIGKILL the broker at random moments, and workers much more often.
        var brokerKills = 0
        var workerKills = 0
        var rng = SystemRandomNumberGenerator()
        var nextBrokerKill = Date().addingTimeInterval(Double.random(in: 1.5...4, using: &rng))
        while clientsDone.wait(timeout: .now() + .milliseconds(Int.random(in: 200...700, using: &rng))) == .timedOut || brokerKills < 4 {
            if Date() >= nextBrokerKill {
                cluster.kill9(broker)
                brokerKills += 1
                broker = try cluster.startBroker()
                nextBrokerKill = Date().addingTimeInterval(Double.random(in: 1.5...4, using: &rng))
            } else if let victim = workers.indices.randomElement(using: &rng) {
                cluster.kill9(workers.remove(at: victim))
                workerKills += 1
                try startWorker()
            }
            if Date().timeIntervalSince(started) > 240 { break }
        }

        // Let it settle, then check everything.
        let (received, executed) = ledger.snapshot
        let client = try cluster.client(timeoutMs: 5000)
        var statuses: [String: WorkflowStatus] = [:]
        let settle = Date().addingTimeInterval(120)
        while Date() < settle {
            for id in executed where statuses[id]?.state.isFinal != true { statuses[id] = try client.status(id) }
            if statuses.values.allSatisfy({ $0.state.isFinal }) { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertEqual(received.count, total, "every workflow got an ID through the outages")
        XCTAssertEqual(executed.count, total, "every workflow got its EXEC answered")
        for id in received {
            XCTAssertNoThrow(try client.status(id), "ID \(id) that a client received exists")
        }
        var jobs = 0
        var dispatches = 0
        var succeededAt: [String: (attempt: Int, at: Int64)] = [:]
        var blockSucceededAt: [String: Int64] = [:]  // "<wf>.<block>" -> time its last job succeeded
        for id in executed {
            guard let s = statuses[id] else { XCTFail("no status for \(id)"); continue }
            XCTAssertEqual(s.state, .succeeded, "\(id): \(s.reason ?? "")")
            for b in s.blocks { for j in b.jobs { XCTAssertEqual(j.state, .succeeded, j.jobId); jobs += 1 } }
            let events = try allEvents(client, id)
            XCTAssertEqual(events.map(\.seq), Array(1...Int64(events.count)), "gapless event log for \(id)")
            var lastSuccessSeq: [Int: Int64] = [:]
            for e in events {
                let block = e.fields["block"]?.intValue.map(Int.init)
                switch e.kind {
                case .jobDispatched:
                    dispatches += 1
                    if let b = block, b > 0 {
                        XCTAssertGreaterThan(e.seq, lastSuccessSeq[b - 1] ?? .max, "\(id): block \(b) dispatched before block \(b - 1) finished")
                    }
                case .jobSucceeded:
                    let jobId = e.fields["job_id"]!.stringValue!
                    succeededAt[jobId] = (Int(e.fields["attempt"]!.intValue!), e.at)
                    if let b = block {
                        lastSuccessSeq[b] = max(lastSuccessSeq[b] ?? 0, e.seq)
                        blockSucceededAt["\(id).\(b)"] = max(blockSucceededAt["\(id).\(b)"] ?? 0, e.at)
                    }
                default: break
                }
            }
        }

        // The workers' own record: every execution of every job.
        let lines = (try String(contentsOfFile: execLog, encoding: .utf8)).split(separator: "\n")
        var executions = 0
        var perJob: [String: Int] = [:]
        var rerunsAfterSuccess = 0
        for line in lines {
            guard let e = try? JSONParser.parse(String(line)), let jobId = e["job_id"]?.stringValue,
                  let attempt = e["attempt"]?.intValue, let at = e["at_ms"]?.intValue else { continue }
            executions += 1
            perJob[jobId, default: 0] += 1
            if let done = succeededAt[jobId], attempt > done.attempt || at > done.at {
                rerunsAfterSuccess += 1
                XCTFail("\(jobId) attempt \(attempt) ran at \(at), after attempt \(done.attempt) was recorded SUCCEEDED at \(done.at)")
            }
            let parts = jobId.split(separator: ".")
            if let b = Int(parts[1]), b > 0, let previous = blockSucceededAt["\(parts[0]).\(b - 1)"] {
                XCTAssertGreaterThanOrEqual(at, previous, "\(jobId) ran before block \(b - 1) had finished")
            }
        }
        XCTAssertEqual(Set(perJob.keys), Set(succeededAt.keys), "every succeeded job ran at least once at a worker")

        // Stop the broker cleanly, then check the file.
        kill(broker.processIdentifier, SIGTERM)
        broker.waitUntilExit()
        let integrity = try Store(path: cluster.dbPath).integrityCheck()
        XCTAssertEqual(integrity, "ok")

        let seconds = Int(Date().timeIntervalSince(started))
        print("chaos: \(executed.count) workflows, \(jobs) jobs, \(seconds) s")
        print("chaos: broker SIGKILLs \(brokerKills), worker SIGKILLs \(workerKills)")
        print("chaos: dispatches \(dispatches), re-dispatches \(dispatches - jobs)")
        print("chaos: executions \(executions), at-least-once re-runs of unrecorded attempts \(executions - jobs), re-runs after SUCCEEDED \(rerunsAfterSuccess)")
        print("chaos: integrity_check \(integrity)")
    }

    private func allEvents(_ client: BatonClient, _ id: String) throws -> [WorkflowEvent] {
        var out: [WorkflowEvent] = []
        while true {
            let page = try client.watch(id, after: out.last?.seq ?? 0)
            if page.events.isEmpty { return out }
            out += page.events
        }
    }
}
