import BatonStore
import BatonWire
import Logging
import Synchronization
import XCTest
import ZeroMQ

@testable import BatonBroker

/// Intervals run on a monotonic clock; the wall clock only stamps what people see
/// (spec §10.7, README "Running it for months"). A real broker (in process, real
/// sockets) whose injected wall clock is stepped by +1 h, then -1 h: its worker is not
/// declared lost, a job's `timeout_ms` fires neither early nor late, and timestamps
/// follow the stepped wall clock.
final class EngineClockTests: XCTestCase {
    /// A wall clock a test can step.
    private final class SteppableWall: Sendable {
        let offset = Mutex<Int64>(0)
        func now() -> Int64 { WallClock.nowMs() + offset.withLock { $0 } }
        func step(by ms: Int64) { offset.withLock { $0 += ms } }
    }

    private let hour: Int64 = 3_600_000

    func testTheEngineClockIsSteadyAndAnchoredToTheWallClock() {
        let wall = SteppableWall()
        let clock = EngineClock(wall: wall.now)
        XCTAssertLessThan(abs(clock.now() - WallClock.nowMs()), 50, "anchored at the start")
        wall.step(by: hour)
        XCTAssertLessThan(abs(clock.now() - WallClock.nowMs()), 50, "the steady clock ignores the step")
        XCTAssertLessThan(abs(clock.wallNow() - WallClock.nowMs() - hour), 50, "the wall clock shows it")
    }

    /// Reading the two clocks one after the other wobbles their offset by a millisecond;
    /// that is not a step, so times shown twice (a bucket's next token) read the same.
    func testTheWallOffsetIgnoresRoundingAndFollowsASteps() {
        var engine = Engine(config: EngineConfig())
        engine.observeWallClock(1_000, at: 1_000)
        engine.observeWallClock(2_001, at: 2_000)
        engine.observeWallClock(2_999, at: 3_000)
        XCTAssertEqual(engine.wall(5_000), 5_000, "a millisecond either way is rounding")
        engine.observeWallClock(3_003, at: 3_000)
        XCTAssertEqual(engine.wall(5_000), 5_003, "three is a step (or NTP's slew), followed")
        engine.observeWallClock(3_000 + hour, at: 3_000)
        XCTAssertEqual(engine.wall(5_000), 5_000 + hour)
        XCTAssertEqual(engine.steady(fromWall: 5_000 + hour), 5_000)
    }

    func testSteppingTheWallClockLosesNoWorkerAndMovesNoTimeout() throws {
        let wall = SteppableWall()
        var options = BrokerOptions()
        options.clientEndpoint = "tcp://127.0.0.1:*"
        options.workerEndpoint = "tcp://127.0.0.1:*"
        options.databasePath = nil
        options.heartbeatMs = 200
        options.wallClock = wall.now
        var logger = Logger(label: "clock-test")
        logger.logLevel = .error
        let server = try BrokerServer(options: options, logger: logger)
        let ready = DispatchSemaphore(value: 0), ended = DispatchSemaphore(value: 0)
        Thread {
            do { try server.run { _, _ in ready.signal() } } catch { XCTFail("broker: \(error)") }
            ended.signal()
        }.start()
        XCTAssertEqual(ready.wait(timeout: .now() + 10), .success)
        defer {
            server.requestStop()
            XCTAssertEqual(ended.wait(timeout: .now() + 10), .success)
        }

        let context = try Context()
        let worker = try context.socket(.dealer), client = try context.socket(.dealer)
        defer {
            worker.close(linger: 0)
            client.close(linger: 0)
        }
        for s in [worker, client] {
            try s.setLinger(0)
            try s.setReceiveTimeout(5000)
        }
        try worker.connect(server.workerEndpoint)
        try client.connect(server.clientEndpoint)

        func request(_ command: ClientCommand, _ body: JSONValue) throws -> ClientFrames.Reply {
            XCTAssertTrue(try client.send(ClientFrames.encodeRequest(command, tag: Array("t".utf8), body: body)))
            return try ClientFrames.decodeReply(try XCTUnwrap(try client.receive(), "no reply to \(command)"))
        }
        func toWorker(_ command: WorkerCommand, _ body: [String: JSONValue] = [:]) throws {
            XCTAssertTrue(try worker.send(WorkerFrames.encode(.init(command, body))))
        }
        /// Heartbeats every 100 ms for `seconds`, returning what the broker sent meanwhile
        /// other than its own HEARTBEATs.
        func beat(for seconds: Double, until stop: (WorkerFrames.Message) -> Bool = { _ in false }) throws -> [WorkerFrames.Message] {
            var got: [WorkerFrames.Message] = []
            let until = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < until {
                try toWorker(.heartbeat)
                var poller = try Poller([.socket(worker)])
                if try poller.poll(timeoutMs: 100)[0], let frames = try worker.receive(dontWait: true) {
                    let m = try WorkerFrames.decode(frames[...])
                    if m.command != .heartbeat { got.append(m) }
                    if stop(m) { break }
                }
            }
            return got
        }

        try toWorker(.ready, ReadyBody(worker: "steady", types: ["t"], capacity: 1).body)
        let answer = try WorkerFrames.decode(try XCTUnwrap(try worker.receive())[...])
        XCTAssertEqual(answer.command, .heartbeat)

        let spec: JSONValue = ["name": "clock", "blocks": [["jobs": [["type": "t", "timeout_ms": 3000, "retry": ["max_attempts": 2, "backoff_ms": 60_000]]]]]]
        let id = try XCTUnwrap(try request(.submit, ["workflow": spec]).body["id"]?.stringValue)
        XCTAssertEqual(try request(.exec, ["id": .string(id)]).command, .status)
        let job = try beat(for: 2) { $0.command == .job }
        XCTAssertEqual(job.map(\.command), [.job])
        let dispatched = ContinuousClock.now

        wall.step(by: hour)
        let afterForward = try beat(for: 1.5)
        XCTAssertEqual(afterForward.map(\.command), [], "a step forward fired the timeout early or lost the worker")
        let later = try request(.submit, ["workflow": spec]).body["id"]?.stringValue ?? ""
        let submittedAt = try XCTUnwrap(try request(.status, ["id": .string(later)]).body["submitted_at"]?.stringValue)
        XCTAssertEqual(submittedAt.prefix(13), Timestamp.format(ms: WallClock.nowMs() + hour).prefix(13),
                       "timestamps follow the wall clock")

        wall.step(by: -2 * hour)  // an hour behind the real time now
        let cancel = try beat(for: 4) { $0.command == .cancel }
        let firedAfter = ContinuousClock.now - dispatched
        XCTAssertEqual(cancel.map(\.command), [.cancel], "no timeout, or the worker was lost: \(cancel)")
        XCTAssertEqual(cancel.first?.body["code"], "timeout")
        XCTAssertGreaterThan(firedAfter, .milliseconds(2900), "fired early")
        XCTAssertLessThan(firedAfter, .milliseconds(4500), "fired late")
        let status = try request(.status, ["id": .string(id)]).body
        let job0 = status["blocks"]?.arrayValue?.first?["jobs"]?.arrayValue?.first
        XCTAssertEqual(job0?["error"], "timed out after 3000 ms")
        let waiting = try XCTUnwrap(job0?["waiting_for"]?.stringValue, "\(status)")
        XCTAssertEqual(waiting.prefix(35), "retry backoff until " + Timestamp.format(ms: WallClock.nowMs() - hour + 60_000).prefix(15),
                       "a stored deadline is wall-clock: the backoff, an hour behind like the clock")
        XCTAssertEqual(job0?["finished_at"]?.stringValue?.prefix(13), Timestamp.format(ms: WallClock.nowMs() - hour).prefix(13))
    }
}
