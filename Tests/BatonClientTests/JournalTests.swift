import BatonClient
import BatonWire
import Foundation
import XCTest

final class JournalTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("j/journal.jsonl").path }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-journal-\(UUID().uuidString)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    let spec = WorkflowSpec(name: "wf", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["x": 1])])])

    private func lines() throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func testTheLastSeenSeqIsReadBackAndOlderReadersSkipIt() throws {
        let journal = Journal(path: path)
        var e = Journal.Entry(key: "k1", file: "one.json", spec: spec, id: "01J1")
        try journal.append(e, step: .submitting)
        try journal.append(e, step: .submitted)
        e.seenSeq = 7
        try journal.append(e, step: .seen)
        e.seenSeq = 12
        try journal.append(e, step: .seen)
        XCTAssertEqual(journal.unfinished().map(\.seenSeq), [12])
        let last = try lines()[3]
        XCTAssertTrue(last.hasPrefix(#"{"at":"#) && last.contains(#""seq":12,"step":"seen""#), last)
    }

    func testEntriesReadBackUntilTheirFinishedStep() throws {
        let journal = Journal(path: path)
        var first = Journal.Entry(key: "k1", file: "one.json", spec: spec)
        let second = Journal.Entry(key: "k2", file: "two.json", spec: WorkflowSpec(name: "two", blocks: spec.blocks))
        try journal.append(first, step: .submitting)
        first.id = "01J1"
        try journal.append(first, step: .submitted)
        try journal.append(second, step: .submitting)
        XCTAssertEqual(journal.unfinished(), [first, second], "in the order started, with the id journaled")
        try journal.append(first, step: .exec)
        try journal.append(first, step: .finished, state: .succeeded)
        XCTAssertEqual(journal.unfinished(), [second])
    }

    func testEveryAppendIsOneWholeLineOnDiskWhenItReturns() throws {
        // append fsyncs before returning; what a test can see of that is that the line is
        // complete in the file, readable by another reader, at once.
        let journal = Journal(path: path)
        var entry = Journal.Entry(key: "k1", file: "one.json", spec: spec)
        let steps: [Journal.Step] = [.submitting, .submitted, .exec, .finished]
        for (n, step) in steps.enumerated() {
            if step == .submitted { entry.id = "01J1" }
            try journal.append(entry, step: step, state: step == .finished ? .failed : nil)
            let written = try lines()
            XCTAssertEqual(written.count, n + 2, "n lines and the empty rest after the last newline")
            XCTAssertEqual(written.last, "")
            let line = try JSONParser.parse(written[n])
            XCTAssertEqual(line["step"], .string(step.rawValue))
            XCTAssertEqual(line["key"], "k1")
        }
        let finished = try JSONParser.parse(try lines()[3])
        XCTAssertEqual(finished["state"], "FAILED")
        XCTAssertEqual(finished["id"], "01J1")
        XCTAssertNil(finished["spec"], "only the submitting line carries the spec")
    }

    func testATornLastLineIsSkipped() throws {
        let journal = Journal(path: path)
        var entry = Journal.Entry(key: "k1", file: "one.json", spec: spec)
        try journal.append(entry, step: .submitting)
        entry.id = "01J1"
        try journal.append(entry, step: .submitted)
        // A crash in the middle of writing the finished line.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"at":"2026-12-04T15:00:00.000Z","file":"one.json","id":"01J1","key":"k1","state":"SUCC"#.utf8))
        handle.closeFile()
        XCTAssertEqual(journal.unfinished(), [entry])
        // The next run appends after the torn line; its lines must not be glued to it
        // (a lost "submitting" line would hide the whole new entry).
        let next = Journal.Entry(key: "k2", file: "two.json", spec: spec)
        try journal.append(next, step: .submitting)
        XCTAssertEqual(journal.unfinished(), [entry, next])
        try journal.append(entry, step: .finished, state: .succeeded)
        XCTAssertEqual(journal.unfinished(), [next])
    }

    func testAMissingJournalHoldsNothing() {
        XCTAssertEqual(Journal(path: path).unfinished(), [])
    }

    func testAJournalThatCannotBeWrittenNamesWhy() throws {
        // A journal "inside" a regular file fails even for root.
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("plain")
        try Data().write(to: file)
        let journal = Journal(path: file.appendingPathComponent("journal.jsonl").path)
        XCTAssertThrowsError(try journal.append(Journal.Entry(key: "k", file: "f", spec: spec), step: .submitting)) { error in
            XCTAssertTrue("\(error)".contains(file.path), "\(error)")
        }
    }

    /// These lines are what Protocol/python/baton/journal.py writes (json.dumps with
    /// sort_keys and compact separators, the spec normalized): a journal Python left
    /// unfinished is resumed here, and the other way round.
    static let pythonLines = [
        #"{"at":"2026-12-04T15:14:08.881Z","file":"py-made.json","key":"py-0f6c","spec":{"blocks":[{"concurrency":1,"jobs":[{"args":{"from":"python","n":3.0},"retry":{"backoff_ms":1000,"max_attempts":3},"timeout_ms":0,"type":"echo"},{"args":{"ms":5},"name":"nap","retry":{"backoff_ms":1000,"max_attempts":1},"timeout_ms":0,"type":"sleep"}]},{"concurrency":2,"jobs":[{"args":{},"retry":{"backoff_ms":1000,"max_attempts":3},"timeout_ms":0,"type":"echo"}]}],"name":"py-made"},"step":"submitting"}"#,
        #"{"at":"2026-12-04T15:14:08.882Z","file":"py-made.json","id":"01JPYTHON0000000000000000","key":"py-0f6c","step":"submitted"}"#,
        #"{"at":"2026-12-04T15:14:08.882Z","file":"py-made.json","id":"01JPYTHON0000000000000000","key":"py-0f6c","step":"exec"}"#,
        #"{"at":"2026-12-04T15:14:08.882Z","file":"done.json","key":"py-done","spec":{"blocks":[{"concurrency":1,"jobs":[{"args":{},"retry":{"backoff_ms":1000,"max_attempts":3},"timeout_ms":0,"type":"echo"}]}],"name":"done"},"step":"submitting"}"#,
        #"{"at":"2026-12-04T15:14:08.883Z","file":"done.json","id":"01JDONE","key":"py-done","step":"submitted"}"#,
        #"{"at":"2026-12-04T15:14:08.883Z","file":"done.json","id":"01JDONE","key":"py-done","state":"SUCCEEDED","step":"finished"}"#,
    ]

    static let pythonSpec = WorkflowSpec(name: "py-made", blocks: [
        BlockSpec(concurrency: 1, jobs: [
            JobSpec(type: "echo", args: ["from": "python", "n": .double(3.0)]),
            JobSpec(type: "sleep", name: "nap", args: ["ms": 5], retry: RetryPolicy(maxAttempts: 1, backoffMs: 1000)),
        ]),
        BlockSpec(concurrency: 2, jobs: [JobSpec(type: "echo")]),
    ])

    func testAJournalWrittenByThePythonSDKIsRead() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (Self.pythonLines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let pending = Journal(path: path).unfinished()
        XCTAssertEqual(pending, [Journal.Entry(key: "py-0f6c", file: "py-made.json", spec: Self.pythonSpec, id: "01JPYTHON0000000000000000")])
    }

    func testTheLinesWrittenAreTheBytesThePythonSDKWrites() throws {
        let journal = Journal(path: path)
        var entry = Journal.Entry(key: "py-0f6c", file: "py-made.json", spec: Self.pythonSpec)
        try journal.append(entry, step: .submitting)
        entry.id = "01JPYTHON0000000000000000"
        try journal.append(entry, step: .submitted)
        try journal.append(entry, step: .exec)
        let ours = try lines().dropLast().map(Self.withoutTime)
        XCTAssertEqual(ours, Self.pythonLines.prefix(3).map(Self.withoutTime))
    }

    /// The line with its `"at"` value blanked (the only field that differs run to run).
    static func withoutTime(_ line: String) -> String {
        line.replacingOccurrences(of: #""at":"[0-9T:.Z-]+""#, with: #""at":"""#, options: .regularExpression)
    }
}
