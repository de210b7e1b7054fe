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

        func sendJob(_ id: [UInt8], _ jobId: String, attempt: Int = 1, type: String, args: [String: JSONValue] = [:]) throws {
            let job = JobBody(jobId: jobId, workflowId: "w1", attempt: attempt, type: type, args: args, timeoutMs: 0)
            try send(id, .job, job.body)
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
        try broker.send(id, .heartbeat, ["interval_ms": 50])
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
        try broker.sendJob(first, "job-sleep", type: "sleep", args: ["ms": 60_000])
        try broker.send(first, .disconnect, ["reason": "unknown worker"])
        let (second, again) = try broker.receiveSkippingHeartbeats()
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
}
