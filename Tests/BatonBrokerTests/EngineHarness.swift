import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Drives the engine turn by turn on plain values, with a clock the test advances and a
/// real (in-memory) SQLite store that receives every turn's writes, as the server does.
final class EngineHarness {
    var engine: Engine
    let store: Store
    let reads: ReadSide
    var now: Int64 = 1_800_000_000_000
    /// Everything sent to workers, by worker, in order.
    var toWorkers: [PeerId: [WorkerFrames.Message]] = [:]
    var notes: [LogNote] = []

    /// `dormantSubmitted`: restore SUBMITTED workflows by id only, as the server does.
    init(config: EngineConfig = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000), store: Store? = nil,
         dormantSubmitted: Bool = false) throws {
        let s = try store ?? Store(path: nil)
        self.store = s
        engine = Engine(config: config, random: SplitMix64(seed: 42))
        reads = ReadSide(store: s, pageSize: 500)
        let dormant = dormantSubmitted ? try s.loadSubmitted() : []
        engine.restore(try s.loadActive(includingSubmitted: !dormantSubmitted), dormant: dormant, stops: try s.loadStops(), now: now)
        _ = commit(engine.finishTurn(now: now))
    }

    /// Runs one turn around `body`: commit, then replies (deferred reads answered after
    /// the commit, like the server).
    @discardableResult
    func turn(_ body: (inout Engine) -> Void) -> [ClientReply] {
        body(&engine)
        return commit(engine.finishTurn(now: now))
    }

    /// Commits a turn and carries it out, like the server; key lookups are answered
    /// after the commit and fed back in a turn of their own, until none is asked.
    private func commit(_ out: TurnOutput) -> [ClientReply] {
        XCTAssertNoThrow(try store.apply(out.writes))
        committed.append(out.writes)
        engine.turnCommitted()
        for s in out.workerSends { toWorkers[s.peer, default: []].append(s.message) }
        notes += out.notes
        // STATS with the engine's half only (the server adds its own, BrokerLoopTests).
        let stats = out.stats.map { ClientReply(peer: $0.peer, command: .ok, tag: $0.tag, body: .object($0.fields)) }
        let replies = out.replies + out.reads.map { reads.answer($0) } + stats
        lookupsAnswered += out.keyLookups.count
        guard !out.keyLookups.isEmpty || !out.workflowLoads.isEmpty else { return replies }
        let answers = reads.lookUps(out)
        engine.keysLookedUp(answers, now: now)
        return replies + commit(engine.finishTurn(now: now))
    }

    /// Every batch written so far, in order.
    var committed: [WriteBatch] = []

    /// How many key lookups the engine asked for so far.
    var lookupsAnswered = 0

    // MARK: Client side

    func request(_ command: ClientCommand, _ body: [String: JSONValue], peer: String = "client",
                 as caller: Caller = .plain) -> ClientReply {
        let replies = turn {
            $0.handleClient(PeerId(Array(peer.utf8)), .init(command: command, tag: Array("t".utf8), body: body), as: caller, now: now)
        }
        XCTAssertEqual(replies.count, 1, "one reply per request")
        return replies[0]
    }

    func submit(_ spec: WorkflowSpec, key: String? = nil, as caller: Caller = .plain) -> String {
        let r = request(.submit, SubmitRequest(workflow: spec, idempotencyKey: key).body.objectValue!, as: caller)
        XCTAssertEqual(r.command, .id, "\(r.body)")
        return r.body["id"]?.stringValue ?? ""
    }

    @discardableResult
    func exec(_ id: String) -> ClientReply { request(.exec, ["id": .string(id)]) }

    func status(_ id: String) -> WorkflowStatus {
        let r = request(.status, ["id": .string(id)])
        XCTAssertEqual(r.command, .status, "\(r.body)")
        return try! WorkflowStatus(json: r.body.objectValue!)
    }

    // MARK: Worker side

    func ready(_ worker: String, types: [String], capacity: Int) {
        turn { $0.handleWorker(PeerId(Array(worker.utf8)), .init(.ready, ReadyBody(worker: worker, types: types, capacity: capacity).body), now: now) }
    }

    /// JOBs sent to `worker` not yet taken by `takeJobs`.
    func takeJobs(_ worker: String) -> [JobBody] {
        let peer = PeerId(Array(worker.utf8))
        let messages = toWorkers[peer] ?? []
        toWorkers[peer] = messages.filter { $0.command != .job }
        return messages.filter { $0.command == .job }.map { try! JobBody(body: $0.body) }
    }

    func sent(_ worker: String, _ command: WorkerCommand) -> [[String: JSONValue]] {
        (toWorkers[PeerId(Array(worker.utf8))] ?? []).filter { $0.command == command }.map(\.body)
    }

    func result(_ worker: String, _ job: JobBody, ok: Bool = true, output: JSONValue? = nil, error: String? = nil, retryable: Bool = true) {
        let body = ResultBody(jobId: job.jobId, attempt: job.attempt, ok: ok, output: output, error: error, retryable: retryable)
        turn { $0.handleWorker(PeerId(Array(worker.utf8)), .init(.result, body.body), now: now) }
    }

    func heartbeat(_ worker: String) {
        turn { $0.handleWorker(PeerId(Array(worker.utf8)), .init(.heartbeat), now: now) }
    }

    /// Advances the clock and ticks.
    @discardableResult
    func advance(_ ms: Int64) -> [ClientReply] {
        now += ms
        return turn { $0.tick(now: now) }
    }

    /// Runs every job any worker has until nothing is left, answering each with success.
    func drain(_ workers: [String], alreadyTaken: [(String, JobBody)] = []) {
        for (w, j) in alreadyTaken { result(w, j, output: .object(j.args)) }
        while true {
            var any = false
            for w in workers {
                for j in takeJobs(w) {
                    any = true
                    result(w, j, output: .object(j.args))
                }
            }
            if !any { return }
        }
    }
}

/// A seeded generator (SplitMix64), so workflow ids repeat from run to run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func spec(_ blocks: [[JobSpec]], concurrency: Int = 1, name: String = "wf") -> WorkflowSpec {
    WorkflowSpec(name: name, blocks: blocks.map { BlockSpec(concurrency: concurrency, jobs: $0) })
}

func jobs(_ n: Int, type: String = "echo", retry: RetryPolicy = .standard, timeoutMs: Int64 = 0) -> [JobSpec] {
    (0..<n).map { JobSpec(type: type, args: ["n": .int(Int64($0))], timeoutMs: timeoutMs, retry: retry) }
}
