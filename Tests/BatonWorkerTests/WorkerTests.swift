import BatonWire
import Foundation
import Logging
import XCTest
import ZeroMQ

@testable import BatonWorker

/// The worker loop against a real ROUTER socket: the test plays the broker.
final class WorkerTests: XCTestCase {
    /// A ROUTER bound on a free loopback port, with a 5 s receive timeout so a missing
    /// message fails the test instead of hanging it.
    private final class FakeBroker {
        let context: Context
        let router: Socket
        let endpoint: String

        init() throws {
            context = try Context()
            router = try context.socket(.router)
            try router.setLinger(0)
            try router.setReceiveTimeout(5000)
            try router.bind("tcp://127.0.0.1:*")
            endpoint = try router.lastEndpoint
        }

        deinit { router.close(linger: 0) }

        /// The next message from any worker: its routing id and the decoded message.
        func receive(file: StaticString = #filePath, line: UInt = #line) throws -> ([UInt8], WorkerFrames.Message) {
            let frames = try XCTUnwrap(try router.receive(), "no message from the worker within 5 s", file: file, line: line)
            return (frames[0], try WorkerFrames.decode(frames.dropFirst()))
        }

        /// The next message other than HEARTBEAT.
        func receiveSkippingHeartbeats(file: StaticString = #filePath, line: UInt = #line) throws -> ([UInt8], WorkerFrames.Message) {
            while true {
                let (id, message) = try receive(file: file, line: line)
                if message.command != .heartbeat { return (id, message) }
            }
        }

        func send(_ id: [UInt8], _ command: WorkerCommand, _ body: [String: JSONValue] = [:]) throws {
            XCTAssertTrue(try router.send([id] + WorkerFrames.encode(.init(command, body))))
        }

        func sendJob(_ id: [UInt8], _ jobId: String, attempt: Int = 1, type: String, args: [String: JSONValue] = [:],
                     timeoutMs: Int64 = 0) throws {
            let job = JobBody(jobId: jobId, workflowId: "w1", attempt: attempt, type: type, args: args, timeoutMs: timeoutMs)
            try send(id, .job, job.body)
        }

        /// The HEARTBEAT that answers a READY (spec §9.3), with `features`.
        func answerReady(_ id: [UInt8], features: [String] = ["cancel_codes", "drain", "progress"]) throws {
            try send(id, .heartbeat, ["interval_ms": 60_000, "max_output_bytes": 1_048_576,
                                      "features": .array(features.map(JSONValue.string))])
        }

        /// Every message within `seconds`, with when it came (the receive timeout ends it).
        func collect(for seconds: Double) throws -> [(at: ContinuousClock.Instant, id: [UInt8], message: WorkerFrames.Message)] {
            var got: [(ContinuousClock.Instant, [UInt8], WorkerFrames.Message)] = []
            let until = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < until {
                try router.setReceiveTimeout(Int32(max(1, Int((until - ContinuousClock.now) / .milliseconds(1)))))
                guard let frames = try router.receive() else { break }
                got.append((ContinuousClock.now, frames[0], try WorkerFrames.decode(frames.dropFirst())))
            }
            try router.setReceiveTimeout(5000)
            return got
        }
    }

    /// A worker running `run()` on a thread of its own; `stop()` ends it and waits.
    private final class RunningWorker {
        let worker: Worker
        private let ended = DispatchSemaphore(value: 0)

        init(_ endpoint: String, capacity: Int, heartbeatMs: Int64 = 60_000) throws {
            var options = Worker.Options(endpoint: endpoint, name: "test-worker", capacity: capacity)
            options.heartbeatMs = heartbeatMs
            var logger = Logger(label: "baton.worker.test")
            logger.logLevel = .error
            let handlers = BuiltinJobs.handlers(shellAllow: ["sh"]).filter { ["echo", "sleep", "fail", "shell"].contains($0.key) }
            worker = try Worker(options: options, handlers: handlers, logger: logger)
            let worker = worker, ended = ended
            Thread {
                do { try worker.run() } catch { XCTFail("worker.run threw \(error)") }
                ended.signal()
            }.start()
        }

        /// Whether run() returned within `seconds` (without a stop request).
        func returns(within seconds: Int) -> Bool { ended.wait(timeout: .now() + .seconds(seconds)) == .success }

        func stop(file: StaticString = #filePath, line: UInt = #line) {
            worker.requestStop()
            XCTAssertEqual(ended.wait(timeout: .now() + 10), .success, "run() did not return after requestStop", file: file, line: line)
        }
    }

    func testReadyAnnouncesTypesAndCapacity() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 3)
        defer { worker.stop() }
        let (_, ready) = try broker.receive()
        XCTAssertEqual(ready.command, .ready)
        XCTAssertEqual(try ReadyBody(body: ready.body),
                       ReadyBody(worker: "test-worker", types: ["echo", "fail", "shell", "sleep"], capacity: 3))
    }

    /// The worker starts with a 60 s interval; once the broker announces 50 ms it beats at
    /// that pace (three beats inside the 5 s receive bound; at 60 s there would be none).
    func testHeartbeatIntervalAnnouncedByTheBrokerIsHonoured() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        let (id, ready) = try broker.receive()
        XCTAssertEqual(ready.command, .ready)
        try broker.send(id, .heartbeat, ["interval_ms": 50, "max_output_bytes": 1_048_576, "features": []])
        for beat in 0..<3 {
            let (from, message) = try broker.receive()
            XCTAssertEqual(message.command, .heartbeat, "message \(beat)")
            XCTAssertEqual(from, id, "the worker reconnected: it did not hear the broker's beats")
            try broker.send(id, .heartbeat, ["interval_ms": 50])
        }
    }

    /// RESULT carries the JOB's job_id and attempt: the broker's fencing token.
    func testJobGetsAResultWithItsJobIdAndAttempt() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 2)
        defer { worker.stop() }
        let (id, _) = try broker.receive()
        try broker.sendJob(id, "job-echo", attempt: 3, type: "echo", args: ["x": 1])
        let (_, message) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(message.command, .result)
        XCTAssertEqual(try ResultBody(body: message.body), ResultBody(jobId: "job-echo", attempt: 3, ok: true, output: ["x": 1]))

        try broker.sendJob(id, "job-fail", attempt: 1, type: "fail", args: ["message": "nope", "retryable": false])
        let (_, failed) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(try ResultBody(body: failed.body), ResultBody(jobId: "job-fail", attempt: 1, ok: false, error: "nope", retryable: false))

        try broker.sendJob(id, "job-odd", type: "file.write")
        let (_, unknown) = try broker.receiveSkippingHeartbeats()
        let result = try ResultBody(body: unknown.body)
        XCTAssertEqual(result.jobId, "job-odd")
        XCTAssertFalse(result.ok)
    }

    /// A RESULT over the broker's `max_output_bytes` (told in its HEARTBEAT) goes out as a
    /// clean, non-retryable failure instead: the connection and the next jobs are fine.
    func testAnOutputOverTheBrokersLimitIsSentAsAFailure() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        let (id, _) = try broker.receive()
        try broker.send(id, .heartbeat, ["interval_ms": 60_000, "max_output_bytes": 500])
        try broker.sendJob(id, "job-big", type: "echo", args: ["blob": .string(String(repeating: "x", count: 600))])
        let (_, big) = try broker.receiveSkippingHeartbeats()
        let failed = try ResultBody(body: big.body)
        XCTAssertEqual(failed.jobId, "job-big")
        XCTAssertFalse(failed.ok)
        XCTAssertFalse(failed.retryable)
        XCTAssertTrue(failed.error?.contains("over the broker's max_output_bytes (500)") ?? false, failed.error ?? "")
        try broker.sendJob(id, "job-small", type: "echo", args: ["x": 1])
        let (_, small) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(try ResultBody(body: small.body), ResultBody(jobId: "job-small", attempt: 1, ok: true, output: ["x": 1]))
    }

    /// With capacity 1, a CANCEL must stop the running 60 s sleep for the next job to get
    /// the only thread; the cancelled sleep's result is never sent.
    func testCancelStopsARunningSleep() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        let (id, _) = try broker.receive()
        try broker.sendJob(id, "job-sleep", type: "sleep", args: ["ms": 60_000])
        try broker.send(id, .cancel, CancelJobBody(jobId: "job-sleep", attempt: 1, code: .timeout, reason: "timeout").body)
        try broker.sendJob(id, "job-echo", type: "echo")
        let (_, message) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(try ResultBody(body: message.body).jobId, "job-echo", "the cancelled sleep's result was sent")
    }

    /// DISCONNECT: a fresh socket (a new routing id) says READY again, and the job that
    /// ran on the old session is given up so the new session's job gets the thread.
    func testDisconnectMakesTheWorkerReconnectWithAFreshSocket() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        let (first, ready) = try broker.receive()
        XCTAssertEqual(ready.command, .ready)
        try broker.answerReady(first)
        try broker.sendJob(first, "job-sleep", type: "sleep", args: ["ms": 60_000])
        try broker.send(first, .disconnect, ["reason": "unknown worker"])
        let disconnectedAt = ContinuousClock.now
        let (second, again) = try broker.receiveSkippingHeartbeats()
        XCTAssertLessThan(ContinuousClock.now - disconnectedAt, .milliseconds(900),
                          "a connection whose READY was answered is reopened at once (spec §9.4, pacing)")
        XCTAssertEqual(again.command, .ready)
        XCTAssertNotEqual(second, first, "the worker reused its socket")
        try broker.sendJob(second, "job-echo", type: "echo")
        let (from, message) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(from, second)
        XCTAssertEqual(try ResultBody(body: message.body).jobId, "job-echo", "the abandoned sleep's result was sent")
    }

    /// A stopping worker says DISCONNECT, and run() returns even with a job running.
    func testStopSaysDisconnectAndReturnsWithAJobRunning() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        let (id, _) = try broker.receive()
        try broker.sendJob(id, "job-sleep", type: "sleep", args: ["ms": 60_000])
        // A HEARTBEAT round trip orders the stop after the JOB reached the worker.
        try broker.send(id, .heartbeat, ["interval_ms": 60_000])
        worker.stop()
        let (_, message) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(message.command, .disconnect)
    }

    /// Stopping the worker kills a running `shell` job's process group before run()
    /// returns: the worker's exit leaves no child behind.
    func testStopKillsARunningShellJobsProcessGroup() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pids = directory.appendingPathComponent("pids").path
        let script = "sleep 30 & echo $! > \(pids).tmp; echo $$ >> \(pids).tmp; mv \(pids).tmp \(pids); sleep 30"
        let (id, _) = try broker.receive()
        try broker.sendJob(id, "job-shell", type: "shell", args: ["argv": ["sh", "-c", .string(script)]])
        let started = try Processes.waitForPids(at: pids)
        XCTAssertEqual(started.count, 2)
        XCTAssertTrue(started.allSatisfy(Processes.isAlive))
        worker.stop()
        // run() waited for the handler, which returns only once the child is reaped (so
        // its /proc entry is gone now, no waiting) and SIGKILL went to the rest of its
        // group (2 s only bound the grandchild's exit).
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/proc/\(started[1])"),
                       "run() returned before the shell job had reaped its child")
        Processes.assertGone(started[1], "the shell job's child", within: 2)
        Processes.assertGone(started[0], "the shell job's grandchild", within: 2)
    }

    // MARK: Pacing, giving up, and what §9.6 asks for JOBs the broker never sends

    /// A broker that never answers READY: the worker counts it dead after 3 intervals and
    /// then waits 1 s, 2 s, … before each new connection (spec §9.4, pacing), instead of
    /// opening a socket every 3 intervals.
    func testConnectionsWithNoAnswerArePacedWithAGrowingWait() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1, heartbeatMs: 100)
        defer { worker.stop() }
        let readies = try broker.collect(for: 4.5).filter { $0.message.command == .ready }
        // Unpaced: a READY every 300 ms (15). Paced: at 0, ~1.3 s, ~3.6 s.
        XCTAssertEqual(readies.count, 3, "READYs at \(readies.map { $0.at - readies[0].at })")
        XCTAssertEqual(Set(readies.map(\.id)).count, readies.count, "each on a new socket")
        if readies.count == 3 {
            let first = readies[1].at - readies[0].at, second = readies[2].at - readies[1].at
            XCTAssertGreaterThan(first, .milliseconds(1200))
            XCTAssertGreaterThan(second, first + .milliseconds(800), "the wait doubles")
        }
    }

    /// `bad_ready` to every READY: the same wait, not a tight loop of refused READYs.
    func testARefusedReadyIsRetriedWithBackoff() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        var readies: [ContinuousClock.Instant] = []
        let until = ContinuousClock.now + .milliseconds(3500)
        while ContinuousClock.now < until {
            for got in try broker.collect(for: 0.1) where got.message.command == .ready {
                readies.append(got.at)
                try broker.send(got.id, .disconnect, DisconnectCode.badReady.body("bad READY: capacity: no"))
            }
        }
        XCTAssertEqual(readies.count, 3, "at 0, 1 s and 3 s: \(readies.map { $0 - readies[0] })")
    }

    /// `timeout_ms` passed since the JOB came: the worker stops the work by itself and
    /// sends nothing (spec §9.3, giving up), so its slot is free for the next JOB even
    /// though no CANCEL came.
    func testAnAttemptIsGivenUpAtItsTimeoutWithoutACancel() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        let (id, _) = try broker.receive()
        try broker.answerReady(id)
        try broker.sendJob(id, "job-slow", type: "sleep", args: ["ms": 60_000], timeoutMs: 300)
        try broker.sendJob(id, "job-next", type: "echo")
        let (_, message) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(try ResultBody(body: message.body).jobId, "job-next", "the slow job's RESULT was sent, or it kept the slot")
        XCTAssertTrue(try broker.collect(for: 0.5).filter { $0.message.command == .result }.isEmpty)
    }

    /// A second JOB for an attempt it runs is ignored (one RESULT); a newer attempt of a
    /// job ends the older one (no RESULT for it).
    func testDuplicateJobsRunOnceAndANewerAttemptReplacesTheOlder() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 4)
        defer { worker.stop() }
        let (id, _) = try broker.receive()
        try broker.answerReady(id)
        try broker.sendJob(id, "job-twice", type: "sleep", args: ["ms": 200])
        try broker.sendJob(id, "job-twice", type: "sleep", args: ["ms": 200])
        try broker.sendJob(id, "job-again", attempt: 1, type: "sleep", args: ["ms": 60_000])
        try broker.sendJob(id, "job-again", attempt: 2, type: "sleep", args: ["ms": 100])
        let results = try broker.collect(for: 1.5).filter { $0.message.command == .result }.map { try ResultBody(body: $0.message.body) }
        XCTAssertEqual(results.map { "\($0.jobId)#\($0.attempt) \($0.ok)" }.sorted(), ["job-again#2 true", "job-twice#1 true"])
    }

    /// A JOB with a usable job_id and attempt but a bad field gets a failed, retryable
    /// RESULT naming the field; one without a usable attempt is dropped.
    func testAMalformedJobFailsNamingItsField() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1)
        defer { worker.stop() }
        let (id, _) = try broker.receive()
        try broker.answerReady(id)
        try broker.send(id, .job, ["job_id": "job-noattempt", "workflow_id": "w1", "type": "echo", "args": [:], "timeout_ms": 0])
        try broker.send(id, .job, ["job_id": "job-badargs", "workflow_id": "w1", "attempt": 2, "type": "echo", "args": "x", "timeout_ms": 0])
        let (_, message) = try broker.receiveSkippingHeartbeats()
        XCTAssertEqual(try ResultBody(body: message.body),
                       ResultBody(jobId: "job-badargs", attempt: 2, ok: false, error: "malformed JOB: args: must be an object, got a string", retryable: true))
        XCTAssertTrue(try broker.collect(for: 0.3).filter { $0.message.command == .result }.isEmpty, "no RESULT for the JOB without attempt")
    }

    /// Asked to drain before its READY was answered, or by a broker that does not
    /// announce `drain`, the worker leaves at once (spec §9.5) instead of sending a
    /// capacity 0 READY the broker may refuse.
    func testADrainWithoutTheBrokersDrainFeatureLeavesAtOnce() throws {
        for features in [nil, ["cancel_codes"]] as [[String]?] {
            let broker = try FakeBroker()
            let worker = try RunningWorker(broker.endpoint, capacity: 1)
            let (id, _) = try broker.receive()
            if let features { try broker.answerReady(id, features: features) }
            Thread.sleep(forTimeInterval: 0.2)  // the answer is read before the drain request
            worker.worker.requestDrain()
            XCTAssertTrue(worker.returns(within: 5), "run() did not return")
            let sent = try broker.collect(for: 0.3).map(\.message.command)
            XCTAssertEqual(sent, [.disconnect], "features \(features ?? [])")
        }
    }

    /// The drain's READY (capacity 0) is sent again when its answer is lost while the
    /// broker is heard (spec §9.3), and the worker leaves at the answer.
    func testALostAnswerToTheDrainsReadyIsAskedAgain() throws {
        let broker = try FakeBroker()
        let worker = try RunningWorker(broker.endpoint, capacity: 1, heartbeatMs: 100)
        let (id, _) = try broker.receive()
        try broker.send(id, .heartbeat, ["interval_ms": 100, "max_output_bytes": 1_048_576, "features": ["drain"]])
        Thread.sleep(forTimeInterval: 0.2)  // the answer is read before the drain request
        worker.worker.requestDrain()
        var drainReadies = 0
        let until = ContinuousClock.now + .milliseconds(1000)
        while ContinuousClock.now < until {
            for got in try broker.collect(for: 0.05) {
                if got.message.command == .ready, got.message.body["capacity"] == 0 { drainReadies += 1 }
                try broker.send(id, .heartbeat, ["interval_ms": 100])  // heard, but no answer
            }
        }
        XCTAssertGreaterThanOrEqual(drainReadies, 2, "the unanswered capacity 0 READY was not sent again")
        try broker.send(id, .heartbeat, ["interval_ms": 100, "max_output_bytes": 1_048_576, "features": ["drain"]])
        XCTAssertTrue(worker.returns(within: 5), "the drain did not end at the answer")
    }
}
