import BatonWire
import Foundation
import Synchronization
import XCTest

@testable import BatonWorker

final class BuiltinJobsTests: XCTestCase {
    private var directory: URL!
    private var root: FileRoot!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        root = try FileRoot(directory.path)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func context(_ type: String, _ args: [String: JSONValue], timeoutMs: Int64 = 0,
                         cancellation: CancellationFlag = CancellationFlag()) -> JobContext {
        JobContext(jobId: "j1", workflowId: "w1", attempt: 2, type: type, args: args, timeoutMs: timeoutMs,
                   cancellation: cancellation)
    }

    /// The handler's failure, or nil when it succeeded.
    private func failure(_ body: () throws -> JSONValue?) -> JobFailure? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? JobFailure
        }
    }

    /// Runs `handler` on a thread of its own, as the pool does; `wait` returns its result.
    private func start(_ handler: @escaping JobHandler, _ ctx: JobContext) -> () -> Result<JSONValue?, any Error>? {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.set(Result { try handler(ctx) })
            done.signal()
        }.start()
        return { done.wait(timeout: .now() + 20) == .success ? box.get() : nil }
    }

    /// (grandchild, child) from the file the test scripts write.
    private func twoPids(at path: String) throws -> (Int32, Int32) {
        let pids = try Processes.waitForPids(at: path)
        guard pids.count == 2 else { throw JobFailure("expected 2 pids in \(path), got \(pids)") }
        return (pids[0], pids[1])
    }

    // MARK: echo, sleep, fail

    func testEchoReturnsItsArgs() throws {
        let args: [String: JSONValue] = ["x": 1, "nested": ["a": [true, "b"]]]
        XCTAssertEqual(try BuiltinJobs.echo(context("echo", args)), .object(args))
    }

    func testSleepSleepsAndReportsIt() throws {
        XCTAssertEqual(try BuiltinJobs.sleep(context("sleep", ["ms": 20])), ["slept_ms": 20])
        XCTAssertEqual(failure { try BuiltinJobs.sleep(context("sleep", ["ms": -1])) }?.retryable, false)
        XCTAssertEqual(failure { try BuiltinJobs.sleep(context("sleep", [:])) }?.retryable, false)
    }

    /// A 60 s sleep returns soon after its cancellation flag is set (20 s is a hang bound).
    func testSleepStopsEarlyOnCancel() throws {
        let flag = CancellationFlag()
        let wait = start(BuiltinJobs.sleep, context("sleep", ["ms": 60_000], cancellation: flag))
        flag.fire()
        let result = try XCTUnwrap(wait(), "sleep did not stop on cancel")
        XCTAssertThrowsError(try result.get()) { XCTAssertEqual(($0 as? JobFailure)?.message, "cancelled") }
    }

    func testFailFailsWithItsMessageAndRetryability() {
        let plain = failure { try BuiltinJobs.fail(context("fail", [:])) }
        XCTAssertEqual(plain?.message, "failed on purpose")
        XCTAssertEqual(plain?.retryable, true)
        let final = failure { try BuiltinJobs.fail(context("fail", ["message": "no", "retryable": false])) }
        XCTAssertEqual(final?.message, "no")
        XCTAssertEqual(final?.retryable, false)
    }

    // MARK: file.write, append

    /// The file types confined to the test's directory.
    private var fileWrite: JobHandler { BuiltinJobs.fileWrite(root: root) }
    private var append: JobHandler { BuiltinJobs.append(root: root) }

    /// The first write changes the file; the same content again changes nothing; new
    /// content changes it again. The reported digest is the content's, the path the job's.
    func testFileWriteIsIdempotentBySha256() throws {
        let path = directory.appendingPathComponent("out.txt").path
        let first = try fileWrite(context("file.write", ["path": "out.txt", "content": "hello"]))
        let digest = SHA256.hex(Array("hello".utf8))
        XCTAssertEqual(first, ["path": "out.txt", "changed": true, "sha256": .string(digest)])
        let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date

        let again = try fileWrite(context("file.write", ["path": "./out.txt", "content": "hello"]))
        XCTAssertEqual(again, ["path": "./out.txt", "changed": false, "sha256": .string(digest)])
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date, modified)

        let changed = try fileWrite(context("file.write", ["path": "out.txt", "content": "bye"]))
        XCTAssertEqual(changed?.objectValue?["changed"], true)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "bye")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.txt"],
                       "a temporary file was left behind")
    }

    func testFileWriteRefusesMissingArgs() {
        XCTAssertEqual(failure { try fileWrite(context("file.write", ["content": "x"])) }?.retryable, false)
        XCTAssertEqual(failure { try fileWrite(context("file.write", ["path": "x"])) }?.retryable, false)
    }

    /// Each run appends one JSON line naming the job and attempt: not idempotent, by design.
    func testAppendAddsOneLinePerRun() throws {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("logs"), withIntermediateDirectories: false)
        for _ in 0..<2 {
            XCTAssertEqual(try append(context("append", ["path": "logs/log.jsonl", "line": "L"])), ["appended": true])
        }
        let path = directory.appendingPathComponent("logs/log.jsonl").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let entry = try XCTUnwrap(try JSONParser.parse(Array(lines[0].utf8)).objectValue)
        XCTAssertEqual(entry["job_id"], "j1")
        XCTAssertEqual(entry["attempt"], 2)
        XCTAssertEqual(entry["line"], "L")
        XCTAssertEqual(entry["worker_pid"]?.intValue, Int64(getpid()))
    }

    /// Without a root the file types do not exist: no job can name a file at all.
    func testFileTypesNeedARoot() throws {
        let without = BuiltinJobs.handlers(shellAllow: [])
        XCTAssertEqual(Set(without.keys), ["echo", "sleep", "fail"])
        let with = BuiltinJobs.handlers(shellAllow: [], fileRoot: root)
        XCTAssertEqual(Set(with.keys), ["echo", "sleep", "fail", "file.write", "append"])
    }

    /// Hole 2 of issue 12: a job's `path` must not reach outside the worker's file root,
    /// nor write into anything but a regular file. Each path is refused by both types,
    /// for good (not retryable), with a message naming the path and the rule; nothing
    /// outside the root changes.
    func testFileJobsRefusePathsOutsideTheirRootAndSpecialFiles() throws {
        let fm = FileManager.default
        let rootURL = directory.appendingPathComponent("root")
        try fm.createDirectory(at: rootURL.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let outside = directory.appendingPathComponent("outside.txt").path
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside))
        try fm.createSymbolicLink(atPath: rootURL.appendingPathComponent("out").path, withDestinationPath: directory.path)
        try fm.createSymbolicLink(atPath: rootURL.appendingPathComponent("escape").path, withDestinationPath: outside)
        try fm.createSymbolicLink(atPath: rootURL.appendingPathComponent("null").path, withDestinationPath: "/dev/null")
        XCTAssertEqual(mkfifo(rootURL.appendingPathComponent("fifo").path, 0o600), 0)
        XCTAssertEqual(link(outside, rootURL.appendingPathComponent("hard").path), 0)
        let confined = try FileRoot(rootURL.path)

        let refused: [(String, String)] = [
            ("", "empty"),
            ("../outside.txt", "contains a .. component"),
            ("sub/../../outside.txt", "contains a .. component"),
            (outside, "absolute; paths are relative to the worker's --file-root"),
            ("/dev/null", "absolute; paths are relative to the worker's --file-root"),
            ("a\u{0}b", "contains a NUL byte"),
            ("sub/", "names a directory, not a file"),
            (".", "names a directory, not a file"),
            ("out/outside.txt", "its directory is outside the worker's --file-root (through a symbolic link)"),
            // A combining mark after `/` makes one Swift Character of the two; the kernel
            // still sees `/`, so these must be split on bytes to be caught.
            ("../\u{301}x", "contains a .. component"),
            ("/\u{301}x", "absolute; paths are relative to the worker's --file-root"),
            ("out/\u{301}x", "its directory is outside the worker's --file-root (through a symbolic link)"),
            ("escape", "is a symbolic link, not a regular file"),
            ("null", "is a symbolic link, not a regular file"),
            ("fifo", "is a FIFO, not a regular file"),
            ("sub", "is a directory, not a regular file"),
            ("hard", "is a regular file with 2 hard links; only single-link files are written"),
        ]
        let handlers = [("file.write", BuiltinJobs.fileWrite(root: confined)), ("append", BuiltinJobs.append(root: confined))]
        for (path, reason) in refused {
            for (type, handler) in handlers {
                let refusal = failure { try handler(context(type, ["path": .string(path), "content": "x"])) }
                XCTAssertEqual(refusal?.message, "args.path \(String(reflecting: path)): \(reason)", "\(type) \(path)")
                XCTAssertEqual(refusal?.retryable, false, "\(type) \(path)")
            }
        }
        XCTAssertEqual(try String(contentsOfFile: outside, encoding: .utf8), "keep", "a job wrote outside its root")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: directory.path).sorted(), ["outside.txt", "root"])
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: rootURL.path).sorted(),
                       ["escape", "fifo", "hard", "null", "out", "sub"], "a job created a file it was refused")
    }

    /// A device is refused by kind, not only by path (here the root is /dev itself).
    func testFileJobsRefuseADevice() throws {
        let refusal = failure { try BuiltinJobs.append(root: try FileRoot("/dev"))(context("append", ["path": "null"])) }
        XCTAssertEqual(refusal?.message, "args.path \"null\": is a character device, not a regular file")
    }

    /// A symbolic link that stays inside the root is followed; a missing directory is an
    /// ordinary, retryable failure (the root may be on a mount that comes back).
    func testFileJobsFollowLinksInsideTheRootAndRetryMissingDirectories() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("real"), withIntermediateDirectories: false)
        try fm.createSymbolicLink(atPath: directory.appendingPathComponent("alias").path, withDestinationPath: "real")
        XCTAssertEqual(try fileWrite(context("file.write", ["path": "alias/a.txt", "content": "in"]))?.objectValue?["changed"], true)
        XCTAssertEqual(try String(contentsOfFile: directory.appendingPathComponent("real/a.txt").path, encoding: .utf8), "in")
        let missing = failure { try append(context("append", ["path": "nowhere/a.txt"])) }
        XCTAssertEqual(missing?.message, "args.path \"nowhere/a.txt\": cannot resolve its directory: No such file or directory")
        XCTAssertEqual(missing?.retryable, true)
    }

    /// `--file-root` must be an existing directory, and not `/`.
    func testFileRootMustBeADirectoryOtherThanSlash() throws {
        let file = directory.appendingPathComponent("plain").path
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: nil))
        XCTAssertThrowsError(try FileRoot(file)) { XCTAssertEqual($0 as? FileRootError, .rootNotADirectory(file)) }
        XCTAssertThrowsError(try FileRoot(file + "-missing")) {
            XCTAssertEqual("\($0)", "--file-root \(file)-missing: No such file or directory")
        }
        XCTAssertThrowsError(try FileRoot("/")) { XCTAssertEqual($0 as? FileRootError, .rootIsSlash) }
        XCTAssertEqual(try FileRoot(directory.path + "/./").path, try FileRoot(directory.path).path)
    }

    // MARK: shell

    private let shell = BuiltinJobs.shell(allow: ["sh", "echo"])

    func testShellRefusesProgramsOffTheAllowList() {
        let refused = failure { try shell(context("shell", ["argv": ["cat", "/etc/passwd"]])) }
        XCTAssertEqual(refused?.retryable, false)
        XCTAssertTrue(refused?.message.contains("--shell-allow") ?? false, refused?.message ?? "")
        XCTAssertEqual(failure { try shell(context("shell", ["argv": []])) }?.retryable, false)
        XCTAssertEqual(failure { try shell(context("shell", ["argv": ["sh", 1]])) }?.retryable, false)
        XCTAssertNil(BuiltinJobs.handlers(shellAllow: [])["shell"], "shell is off without an allow list")
    }

    func testShellReturnsExitCodeAndBothStreams() throws {
        let output = try shell(context("shell", ["argv": ["sh", "-c", "echo out; echo err >&2"]]))
        XCTAssertEqual(output, ["exit_code": 0, "stdout": "out\n", "stderr": "err\n",
                                "stdout_truncated": false, "stderr_truncated": false])
    }

    func testLongJobsBeatProgressEveryThirdOfTheirHeartbeatTimeout() throws {
        let beats = Mutex<[JSONValue?]>([])
        func beating(_ type: String, _ args: [String: JSONValue]) -> JobContext {
            JobContext(jobId: "j1", workflowId: "w1", attempt: 1, type: type, args: args, timeoutMs: 0, heartbeatTimeoutMs: 300,
                       cancellation: CancellationFlag()) { details in beats.withLock { $0.append(details) } }
        }
        _ = try shell(beating("shell", ["argv": ["sh", "-c", "sleep 0.55"]]))
        let shellBeats = beats.withLock { b in defer { b = [] }; return b }
        XCTAssertGreaterThanOrEqual(shellBeats.count, 3, "every 100 ms for 550 ms: \(shellBeats)")
        XCTAssertNotNil(shellBeats.first??["running_ms"]?.intValue)
        _ = try BuiltinJobs.sleep(beating("sleep", ["ms": 550]))
        let sleepBeats = beats.withLock { $0.count }
        XCTAssertGreaterThanOrEqual(sleepBeats, 3)
        _ = try shell(context("shell", ["argv": ["sh", "-c", "sleep 0.2"]]))  // no heartbeat_timeout_ms
        _ = try BuiltinJobs.sleep(context("sleep", ["ms": 200]))
        XCTAssertEqual(beats.withLock { $0.count }, sleepBeats, "no heartbeat_timeout_ms, no beats (and `context` has no reporter)")
    }

    func testShellFailsOnNonZeroExitWithStderr() {
        let failed = failure { try shell(context("shell", ["argv": ["sh", "-c", "echo broken >&2; exit 3"]])) }
        XCTAssertEqual(failed?.message, "sh exited with 3: broken\n")
        XCTAssertEqual(failed?.retryable, true)
    }

    /// 1 MiB on stderr before anything on stdout: reading stdout to EOF first would block
    /// the child on a full stderr pipe (64 KiB) forever.
    func testShellDrainsAFullStderrWhileReadingStdout() throws {
        let script = "yes e | head -c 1048576 >&2; echo done"
        let wait = start(shell, context("shell", ["argv": ["sh", "-c", .string(script)]]))
        let output = try XCTUnwrap(wait(), "shell hung on a full stderr pipe").get()?.objectValue
        XCTAssertEqual(output?["stdout"], "done\n")
        XCTAssertEqual(output?["stderr"]?.stringValue?.utf8.count, 1 << 20)
        XCTAssertEqual(output?["stderr_truncated"], false)
    }

    /// Past 1 MiB a stream is cut (and says so) but still read to its end.
    func testShellCutsAStreamAtOneMebibyteAndSaysSo() throws {
        let script = "yes o | head -c 3000000; echo short >&2"
        let wait = start(shell, context("shell", ["argv": ["sh", "-c", .string(script)]]))
        let output = try XCTUnwrap(wait(), "shell hung").get()?.objectValue
        XCTAssertEqual(output?["stdout"]?.stringValue?.utf8.count, 1 << 20)
        XCTAssertEqual(output?["stdout_truncated"], true)
        XCTAssertEqual(output?["stderr"], "short\n")
        XCTAssertEqual(output?["stderr_truncated"], false)
    }

    /// Cancel kills the child and its grandchild (the whole process group), and the handler
    /// returns: neither a process nor the pool thread is left behind.
    func testShellCancelKillsTheChildAndItsGrandchild() throws {
        let pids = directory.appendingPathComponent("pids").path
        let flag = CancellationFlag()
        let script = "sleep 30 & echo $! > \(pids).tmp; echo $$ >> \(pids).tmp; mv \(pids).tmp \(pids); sleep 30"
        let wait = start(shell, context("shell", ["argv": ["sh", "-c", .string(script)]], cancellation: flag))
        let (grandchild, child) = try twoPids(at: pids)
        XCTAssertTrue(Processes.isAlive(child) && Processes.isAlive(grandchild))
        flag.fire()
        let result = try XCTUnwrap(wait(), "shell did not return after cancel")
        XCTAssertThrowsError(try result.get()) {
            XCTAssertTrue(($0 as? JobFailure)?.message.hasPrefix("cancelled") ?? false, "\($0)")
        }
        Processes.assertGone(child, "the child")
        Processes.assertGone(grandchild, "the grandchild")
    }

    /// `timeout_ms` is enforced here too, in case the broker's CANCEL is lost.
    func testShellTimeoutKillsTheProcessGroup() throws {
        let pids = directory.appendingPathComponent("pids").path
        let script = "sleep 30 & echo $! > \(pids).tmp; echo $$ >> \(pids).tmp; mv \(pids).tmp \(pids); sleep 30"
        let wait = start(shell, context("shell", ["argv": ["sh", "-c", .string(script)]], timeoutMs: 300))
        let (grandchild, child) = try twoPids(at: pids)
        let result = try XCTUnwrap(wait(), "shell did not return after its timeout")
        XCTAssertThrowsError(try result.get()) {
            XCTAssertTrue(($0 as? JobFailure)?.message.hasPrefix("timed out after 300 ms") ?? false, "\($0)")
        }
        Processes.assertGone(child, "the child")
        Processes.assertGone(grandchild, "the grandchild")
    }

    /// A child that exits leaving a background process behind: the job returns (the
    /// leftover holds the pipes open) and the leftover is killed.
    func testShellKillsWhatTheChildLeftRunning() throws {
        let pids = directory.appendingPathComponent("pids").path
        let wait = start(shell, context("shell", ["argv": ["sh", "-c", .string("sleep 30 & echo $! > \(pids); echo bye")]]))
        let output = try XCTUnwrap(wait(), "shell waited for a leftover background process").get()
        XCTAssertEqual(output?.objectValue?["exit_code"], 0)
        let leftover = try XCTUnwrap(Int32(try String(contentsOfFile: pids, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        Processes.assertGone(leftover, "the leftover")
    }
}

private final class ResultBox: Sendable {
    private let result = Mutex<Result<JSONValue?, any Error>?>(nil)
    func set(_ r: Result<JSONValue?, any Error>) { result.withLock { $0 = r } }
    func get() -> Result<JSONValue?, any Error>? { result.withLock { $0 } }
}
