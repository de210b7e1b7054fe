import BatonStore
import BatonWire
import Foundation
import XCTest

@testable import BatonBroker

/// The committer thread on a real SQLite file: order, reads after their commit, and a
/// failed commit failing every turn queued behind it until `resume`.
final class CommitterTests: XCTestCase {
    private var dir: URL!
    private var store: Store!
    private var committer: Committer!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-committer-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try Store(path: dir.appendingPathComponent("b.db").path, access: .owner)
        committer = try Committer(store: store, reads: ReadSide(store: store, pageSize: 100), maxTurnsPerCommit: 2)
    }

    override func tearDownWithError() throws {
        committer.stop()
        committer = nil
        store = nil
        try? FileManager.default.removeItem(at: dir)
    }

    private func record(_ id: String) -> WorkflowRecord {
        WorkflowRecord(id: id, spec: spec([jobs(1)]), submittedAt: 1_800_000_000_000, lastEvent: 1)
    }

    /// A turn inserting `id`, and asking for its STATUS after the commit.
    private func insertTurn(_ id: String) -> TurnOutput {
        var out = TurnOutput()
        out.writes.inserted = [record(id)]
        out.writes.events = [(id, EventRow(seq: 1, at: 1_800_000_000_000, kind: .workflowSubmitted))]
        out.reads = [.status(peer: PeerId(Array("c".utf8)), tag: Array(id.utf8), id: id)]
        return out
    }

    /// Which `insertTurn`s these are: each one's read is tagged with its id.
    private func turnIds(_ done: Committer.Done) -> [String] {
        done.answers.map { String(decoding: $0.tag, as: UTF8.self) }
    }

    /// Replaces the committer with one that deletes workflows finished over 60 s ago,
    /// looking every 20 ms; returns its `ReadSide`.
    @discardableResult
    private func useRetention() throws -> ReadSide {
        committer.stop()
        let reads = ReadSide(store: store, pageSize: 100)
        committer = try Committer(store: store, reads: reads, maxTurnsPerCommit: 2,
                                  retention: .init(keepMs: 60_000, idleCheck: .milliseconds(20)))
        return reads
    }

    /// A turn inserting `id` as a workflow that succeeded `ago` ms ago, and the record.
    private func finishedTurn(_ id: String, finishedAgoMs ago: Int64) -> (TurnOutput, WorkflowRecord) {
        var done = record(id)
        done.state = .succeeded
        done.finishedAt = WallClock.nowMs() - ago
        var insert = TurnOutput()
        insert.writes.inserted = [done]
        return (insert, done)
    }

    /// A turn the store refuses: it updates a workflow row that does not exist.
    private func brokenTurn() -> TurnOutput {
        var out = TurnOutput()
        var ghost = record("GHOST")
        ghost.state = .running
        out.writes.updated = [ghost]
        return out
    }

    /// Waits (bounded, against hangs) until `n` turns are back.
    private func collect(_ n: Int) throws -> [Committer.Done] {
        var done: [Committer.Done] = []
        let deadline = Date().addingTimeInterval(10)
        while done.count < n && Date() < deadline {
            var wake = pollfd(fd: committer.readyFd, events: Int16(POLLIN), revents: 0)
            _ = poll(&wake, 1, 100)
            done += committer.takeDone()
        }
        XCTAssertEqual(done.count, n, "turns back from the committer")
        return done
    }

    func testTurnsComeBackInOrderWithReadsAnsweredAfterTheirCommit() throws {
        let ids = (0..<7).map { "WF\($0)" }
        for id in ids { committer.submit(insertTurn(id)) }
        let done = try collect(ids.count)
        XCTAssertEqual(done.map { $0.failure == nil }, Array(repeating: true, count: ids.count))
        XCTAssertEqual(done.flatMap(turnIds), ids)
        XCTAssertTrue(done.allSatisfy { $0.output.writes.isEmpty }, "committed rows are freed on the committer's thread")
        for (d, id) in zip(done, ids) {
            XCTAssertEqual(d.answers.count, 1)
            XCTAssertEqual(d.answers.first?.command, .status, "the read saw its own turn's insert")
            XCTAssertEqual(d.answers.first?.body["id"]?.stringValue, id)
        }
        XCTAssertEqual(try ids.compactMap { try store.workflow(id: $0)?.id }, ids)
    }

    func testAFailedCommitFailsTheTurnsQueuedBehindItUntilResume() throws {
        committer.submit(insertTurn("BEFORE"))
        XCTAssertNil(try collect(1)[0].failure)

        committer.submit(brokenTurn())
        committer.submit(insertTurn("AFTER1"))
        committer.submit(insertTurn("AFTER2"))
        let failed = try collect(3)
        XCTAssertEqual(failed.filter { $0.failure != nil }.count, 3, "turns decided on top of a failed one fail too")
        XCTAssertTrue(failed.allSatisfy { $0.answers.isEmpty })
        XCTAssertNil(try store.workflow(id: "AFTER1"))
        XCTAssertNil(try store.workflow(id: "AFTER2"))
        XCTAssertNotNil(try store.workflow(id: "BEFORE"))

        committer.submit(insertTurn("STILL-REFUSED"))
        XCTAssertNotNil(try collect(1)[0].failure, "refused until the event loop has rebuilt its memory")
        committer.resume()
        committer.submit(insertTurn("RESUMED"))
        XCTAssertNil(try collect(1)[0].failure)
        XCTAssertNotNil(try store.workflow(id: "RESUMED"))
        XCTAssertNil(try store.workflow(id: "STILL-REFUSED"))
    }

    func testADeferredReadSeesItsOwnTurnAndNotALaterOne() throws {
        // A slow first turn, so that the next two queue up behind it together.
        var slow = TurnOutput()
        for i in 0..<10000 {
            let id = "SLOW\(i)"
            slow.writes.inserted.append(record(id))
            slow.writes.events.append((id, EventRow(seq: 1, at: 1_800_000_000_000, kind: .workflowSubmitted)))
        }
        committer.submit(slow)
        // Let the committer start on it alone. (If it has not, this test checks less, but
        // cannot fail wrongly: the order of the answers holds either way.)
        usleep(20_000)
        var asks = TurnOutput()
        asks.reads = [.status(peer: PeerId(Array("c".utf8)), tag: Array("ask".utf8), id: "LATER")]
        committer.submit(asks)
        committer.submit(insertTurn("LATER"))
        let done = try collect(3)
        XCTAssertEqual(done[1].answers.first?.command, .error,
                       "the read was decided before LATER existed; its answer must not show it")
        XCTAssertEqual(done[1].answers.first?.body["code"]?.stringValue, "not_found")
        XCTAssertEqual(done[2].answers.first?.command, .status)
    }

    /// Under low load the event loop commits a turn on its own thread: it comes back at
    /// once, committed, with its read answered after the commit, and not a second time
    /// from `takeDone`.
    func testCommitHereCommitsOnTheCallersThreadWhenIdle() throws {
        guard let done = committer.commitHere(insertTurn("HERE")) else { return XCTFail("declined while idle") }
        XCTAssertNil(done.failure)
        XCTAssertEqual(turnIds(done), ["HERE"])
        XCTAssertEqual(done.answers.first?.command, .status, "the read saw its own turn's insert")
        XCTAssertTrue(done.output.writes.isEmpty)
        XCTAssertNotNil(try store.workflow(id: "HERE"))
        XCTAssertTrue(committer.takeDone().isEmpty, "a turn committed here is not handed back again")
        XCTAssertEqual(committer.stats().count, 1)
    }

    /// While the committer's thread holds a turn (queued or being applied) a commit
    /// elsewhere would break the order: `commitHere` declines, and the turn is submitted.
    func testCommitHereDeclinesWhileATurnIsQueuedOrBeingApplied() throws {
        var slow = TurnOutput()
        for i in 0..<10000 { slow.writes.inserted.append(record("SLOW\(i)")) }
        committer.submit(slow)
        XCTAssertNil(committer.commitHere(insertTurn("NOT-HERE")), "the slow turn is queued or being applied")
        XCTAssertNil(try store.workflow(id: "NOT-HERE"))
        XCTAssertNil(try collect(1)[0].failure)
        XCTAssertNotNil(committer.commitHere(insertTurn("HERE-AFTER")), "idle again once it is back")
    }

    /// A commit that fails on the caller's thread refuses what comes after it, as one on
    /// the committer's thread does, until the event loop has rebuilt its memory.
    func testAFailedCommitHereRefusesLaterTurnsUntilResume() throws {
        XCTAssertNotNil(committer.commitHere(brokenTurn())?.failure)
        XCTAssertNil(committer.commitHere(insertTurn("REFUSED-HERE")), "refused: not committed here")
        committer.submit(insertTurn("REFUSED"))
        XCTAssertNotNil(try collect(1)[0].failure)
        XCTAssertNil(try store.workflow(id: "REFUSED"))
        committer.resume()
        XCTAssertNil(committer.commitHere(insertTurn("RESUMED"))?.failure)
        XCTAssertNotNil(try store.workflow(id: "RESUMED"))
    }

    func testStopFinishesWhatIsQueued() throws {
        for i in 0..<5 { committer.submit(insertTurn("Q\(i)")) }
        committer.stop()
        XCTAssertEqual(try (0..<5).compactMap { try store.workflow(id: "Q\($0)")?.id }.count, 5)
        // stop() is idempotent: tearDown calls it again.
    }

    func testStopOnAnErrorDiscardsWhatIsQueued() throws {
        var slow = TurnOutput()
        for i in 0..<3000 { slow.writes.inserted.append(record("SLOW\(i)")) }
        committer.submit(slow)
        for i in 0..<5 { committer.submit(insertTurn("Q\(i)")) }
        committer.stop(discardQueued: true)
        XCTAssertLessThan(try (0..<5).compactMap { try store.workflow(id: "Q\($0)")?.id }.count, 5,
                          "turns not yet started when the broker left on an error are not committed")
    }

    func testKeyLookupsAreAnsweredAfterTheCommitWithoutEndingTheGroup() throws {
        var ask = insertTurn("KEYED")
        ask.reads = []
        ask.writes.inserted[0].idempotencyKey = "the-key"
        ask.keyLookups = ["the-key", "free-key"]
        committer.submit(ask)
        let done = try collect(1)[0]
        XCTAssertNil(done.failure)
        XCTAssertEqual(done.lookups.map(\.key), ["the-key", "free-key"])
        XCTAssertEqual(try done.lookups[0].found.get()?.id, "KEYED", "the lookup saw its own turn's insert")
        XCTAssertNil(try done.lookups[1].found.get() ?? nil)
    }

    /// A finished workflow's STATUS is read from the store once and kept for the next
    /// read; retention deleting it makes STATUS answer not_found at once, not from what
    /// was kept.
    func testAKeptFinishedWorkflowIsForgottenWhenRetentionDeletesIt() throws {
        let reads = try useRetention()
        // Expires 2 s from now: time for the read first, even on a loaded machine.
        let (insert, done) = finishedTurn("OLD", finishedAgoMs: 58_000)
        committer.submit(insert)
        XCTAssertNil(try collect(1)[0].failure)

        var ask = TurnOutput()
        ask.reads = [.status(peer: PeerId(Array("c".utf8)), tag: Array("ask".utf8), id: "OLD")]
        committer.submit(ask)
        XCTAssertEqual(try collect(1)[0].answers.first?.command, .status)
        XCTAssertEqual(reads.finished.record("OLD"), done, "kept as stored")

        // The committer drops what it kept just after the deletion commits (never before:
        // a read in between would keep the record again), so both are waited for: a
        // check right after the row went raced that drop (CI on 2aee245).
        let deadline = Date().addingTimeInterval(10)
        while try (store.workflow(id: "OLD") != nil || reads.finished.record("OLD") != nil) && Date() < deadline { usleep(10_000) }
        XCTAssertNil(try store.workflow(id: "OLD"), "retention deleted it")
        XCTAssertNil(reads.finished.record("OLD"), "and the kept record went with it")
        committer.submit(ask)
        XCTAssertEqual(try collect(1)[0].answers.first?.body["code"]?.stringValue, "not_found")
    }

    /// Retention keeps working when every turn is committed on the caller's thread
    /// (`commitHere` does not signal the committer's thread, which looks on its own).
    func testRetentionRunsWhileTurnsAreCommittedHere() throws {
        try useRetention()
        let (insert, _) = finishedTurn("OLD-HERE", finishedAgoMs: 61_000)
        var done: Committer.Done?
        let deadline = Date().addingTimeInterval(10)
        // The committer's thread may be running its first (empty) retention batch.
        while done == nil && Date() < deadline {
            done = committer.commitHere(insert)
            if done == nil { usleep(1_000) }
        }
        XCTAssertNil(done?.failure)
        var i = 0
        while try store.workflow(id: "OLD-HERE") != nil && Date() < deadline {
            // Keep committing here, as a broker under low load does.
            _ = committer.commitHere(insertTurn("HERE-\(i)"))
            i += 1
            usleep(5_000)
        }
        XCTAssertNil(try store.workflow(id: "OLD-HERE"), "retention deleted it")
    }

    /// Several threads submit while the test takes what is done: every turn comes back
    /// once, committed, and each thread's turns in the order it submitted them. Breaks
    /// if the committer's state is touched outside its lock (the `@unchecked Sendable`).
    func testConcurrentSubmitters() throws {
        let threads = 4, perThread = 50
        let group = DispatchGroup()
        let c: Committer = committer
        for t in 0..<threads {
            let turns = (0..<perThread).map { insertTurn("T\(t)-\($0)") }
            group.enter()
            Thread {
                for turn in turns { c.submit(turn) }
                group.leave()
            }.start()
        }
        let done = try collect(threads * perThread)
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(done.allSatisfy { $0.failure == nil })
        let ids = done.flatMap(turnIds)
        XCTAssertEqual(Set(ids).count, threads * perThread, "each turn back exactly once")
        for t in 0..<threads {
            let mine = ids.filter { $0.hasPrefix("T\(t)-") }
            XCTAssertEqual(mine, (0..<perThread).map { "T\(t)-\($0)" }, "thread \(t)'s turns in its order")
        }
    }
}
