import BatonWire
import Foundation
import GRDB
import XCTest

@testable import BatonStore

final class StoreTests: XCTestCase {
    private let t0 = Fixture.t0

    // MARK: Insert and read back

    func testInsertedWorkflowReadsBackEqual() throws {
        try onEveryStore { store, _ in
            var (w, submitted) = Fixture.submitted("01JA", key: "key-1")
            // Every job column set to something, including JSON outputs of each kind.
            w.jobs[0][0] = JobRecord(state: .succeeded, attempt: 1, output: ["message": "hi", "list": [1, nil, true]],
                                     startedAt: t0 + 1, finishedAt: t0 + 2)
            w.jobs[0][1] = JobRecord(state: .pending, attempt: 1, output: nil, error: "boom 😀\n", startedAt: t0 + 1,
                                     finishedAt: t0 + 3, retryAt: t0 + 103)
            w.jobs[1][0] = JobRecord(state: .pending, attempt: 0, output: "just a string")
            w.lastEvent = 3
            var batch = Fixture.insert((w, submitted))
            let running = WorkflowEvent(seq: 2, at: t0 + 1, kind: .workflowRunning)
            let started = WorkflowEvent(seq: 3, at: t0 + 1, kind: .blockStarted, fields: ["block": 0])
            batch.events += [(w.id, EventRow(running)), (w.id, EventRow(started))]
            try store.apply(batch)

            XCTAssertEqual(try store.workflow(id: "01JA"), w)
            XCTAssertEqual(try store.workflow(idempotencyKey: "key-1"), w)
            XCTAssertNil(try store.workflow(id: "01JB"))
            XCTAssertNil(try store.workflow(idempotencyKey: "key-2"))
            XCTAssertNil(try store.workflow(idempotencyKey: ""))
            XCTAssertEqual(try store.workflowState(id: "01JA"), .submitted)
            XCTAssertNil(try store.workflowState(id: "01JB"))
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 100), [submitted, running, started])
        }
    }

    /// The reads the broker answers while it serves (a WATCH's events, STATUS of a
    /// stored workflow, a stored key) and every transaction's BEGIN and COMMIT stay
    /// compiled between calls: compiling the WATCH read alone cost ~580k instructions
    /// per answer.
    func testServingReadsAndTransactionsStayCompiled() throws {
        let store = try Store(path: nil)
        let (w, submitted) = Fixture.submitted("01JA", key: "key-1")
        try store.apply(Fixture.insert((w, submitted)))
        XCTAssertEqual(try store.eventsPage(workflowId: "01JA", after: 0, limit: 10)?.events, [submitted])
        XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 10), [submitted])
        XCTAssertNotNil(try store.workflow(id: "01JA"))
        XCTAssertNotNil(try store.workflow(idempotencyKey: "key-1"))
        XCTAssertEqual(try store.workflowState(id: "01JA"), .submitted)
        let compiled = Set(store.compiledStatements().map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") })
        for sql in ["BEGIN IMMEDIATE TRANSACTION", "BEGIN DEFERRED TRANSACTION", "COMMIT TRANSACTION",
                    "SELECT seq, state, owner, name, submitted_at FROM workflows WHERE id = ?",
                    "SELECT * FROM workflows WHERE id = ?", "SELECT * FROM workflows WHERE idempotency_key = ?",
                    "SELECT state FROM workflows WHERE id = ?"] {
            XCTAssertTrue(compiled.contains(sql), "not kept compiled: \(sql)")
        }
        XCTAssertTrue(compiled.contains { $0.hasPrefix("SELECT seq, last, data FROM events") }, "the events read is not kept compiled")
    }

    /// The broker writes an unfinished workflow's row only when its own columns change,
    /// so the row's `last_event` may lag behind its events: reading one back takes the
    /// newest event's seq (the engine numbers the next event from it). A final
    /// workflow's column is what its finishing write said.
    func testAnUnfinishedWorkflowReadsBackWithItsNewestEventSeq() throws {
        try onEveryStore { store, _ in
            let (running, submitted) = Fixture.submitted("01JA", jobs: [2])
            let (finished, finishedSubmitted) = Fixture.submitted("01JB", jobs: [1])
            try store.apply(Fixture.insert((running, submitted), (finished, finishedSubmitted)))
            var w = running, done = finished
            w.state = .running
            w.lastEvent = 3
            var exec = WriteBatch()
            exec.updated = [w]
            exec.events = [(w.id, EventRow(seq: 2, at: t0, kind: .workflowRunning)),
                           (w.id, EventRow(seq: 3, at: t0, kind: .blockStarted))]
            try store.apply(exec)
            // Job events alone, in two commits (two folded rows), the row untouched.
            var jobsOnly = WriteBatch()
            jobsOnly.events = [(w.id, EventRow(seq: 4, at: t0 + 1, kind: .jobDispatched)),
                               (w.id, EventRow(seq: 5, at: t0 + 2, kind: .jobSucceeded))]
            try store.apply(jobsOnly)
            jobsOnly.events = [(w.id, EventRow(seq: 6, at: t0 + 3, kind: .jobDispatched))]
            try store.apply(jobsOnly)
            XCTAssertEqual(try store.workflow(id: "01JA")?.lastEvent, 6)
            XCTAssertEqual(try store.loadActive().first { $0.id == "01JA" }?.lastEvent, 6)
            // Finished: the column says 2 (its own last write), whatever rows follow it.
            done.state = .succeeded
            done.finishedAt = t0 + 5
            done.lastEvent = 2
            var finish = WriteBatch()
            finish.updated = [done]
            finish.events = [(done.id, EventRow(seq: 2, at: t0 + 5, kind: .workflowSucceeded))]
            try store.apply(finish)
            XCTAssertEqual(try store.workflow(id: "01JB")?.lastEvent, 2)
        }
    }

    /// A dispatch and a success write no job row (schema v9). A job whose newest `job.*`
    /// event is its `job.dispatched` reads back RUNNING in that attempt, started at the
    /// event; one whose newest is its `job.succeeded` reads back SUCCEEDED with the
    /// output stored beside the event, started at that attempt's dispatch. A job whose
    /// attempt ended otherwise (its row written with the event) reads as its row says;
    /// PROGRESS events hide nothing. Running and finished workflows alike. An unfinished
    /// workflow's block is its newest `block.started`'s, its row's `current_block` lagging.
    func testJobsReadBackFromTheirDispatchAndSuccessEvents() throws {
        try onEveryStore { store, _ in
            let (w0, submitted) = Fixture.submitted("01JD", jobs: [1, 4])
            try store.apply(Fixture.insert((w0, submitted)))
            func job(_ kind: EventKind, _ seq: Int64, block: Int = 1, job: Int, attempt: Int, at: Int64,
                     output: JSONValue? = nil) -> (String, EventRow) {
                ("01JD", EventRow(seq: seq, at: at, kind: kind, fields: EventFields(["attempt": .int(Int64(attempt)), "block": .int(Int64(block)),
                                                                                      "job": .int(Int64(job))]), output: output.map(JSONText.init)))
            }
            var w = w0
            w.state = .running
            w.currentBlock = 1
            w.lastEvent = 7
            var earlier = WriteBatch()
            var atExec = w  // the row as EXEC wrote it: block 1's start rewrites no row
            atExec.currentBlock = 0
            earlier.updated = [atExec]
            earlier.events = [("01JD", EventRow(seq: 2, at: t0, kind: .workflowRunning)),
                              ("01JD", EventRow(seq: 3, at: t0, kind: .blockStarted, fields: EventFields(["block": 0]))),
                              job(.jobDispatched, 4, block: 0, job: 0, attempt: 1, at: t0 + 1),
                              job(.jobSucceeded, 5, block: 0, job: 0, attempt: 1, at: t0 + 2, output: ["disk": "sda"]),
                              ("01JD", EventRow(seq: 6, at: t0 + 2, kind: .blockSucceeded, fields: EventFields(["block": 0]))),
                              ("01JD", EventRow(seq: 7, at: t0 + 2, kind: .blockStarted, fields: EventFields(["block": 1])))]
            try store.apply(earlier)
            // Job 0 runs; job 1 failed once (its row) and runs again; job 2 was stopped
            // (its row); job 3 was never dispatched. Three commits, three folded rows.
            var dispatches = WriteBatch()
            dispatches.events = [job(.jobDispatched, 8, job: 0, attempt: 1, at: t0 + 10),
                                 job(.jobDispatched, 9, job: 1, attempt: 1, at: t0 + 10),
                                 job(.jobDispatched, 10, job: 2, attempt: 1, at: t0 + 10)]
            try store.apply(dispatches)
            var ended = WriteBatch()
            let retrying = JobRecord(state: .pending, attempt: 1, error: "flaky", startedAt: t0 + 10, finishedAt: t0 + 20, retryAt: t0 + 30)
            let stopped = JobRecord(state: .pending, attempt: 1, startedAt: t0 + 10, finishedAt: t0 + 20, stoppedAttempts: 1)
            ended.jobs = [("01JD", 1, 1, retrying), ("01JD", 1, 2, stopped)]
            ended.events = [job(.jobRetrying, 11, job: 1, attempt: 1, at: t0 + 20),
                            job(.jobStopped, 12, job: 2, attempt: 1, at: t0 + 20)]
            try store.apply(ended)
            var again = WriteBatch()
            again.events = [job(.jobDispatched, 13, job: 1, attempt: 2, at: t0 + 30),
                            job(.jobProgress, 14, job: 0, attempt: 1, at: t0 + 31)]
            try store.apply(again)

            var expected = w
            expected.lastEvent = 14
            expected.jobs[0][0] = JobRecord(state: .succeeded, attempt: 1, output: ["disk": "sda"], startedAt: t0 + 1, finishedAt: t0 + 2)
            expected.jobs[1][0] = JobRecord(state: .running, attempt: 1, startedAt: t0 + 10)
            expected.jobs[1][1] = JobRecord(state: .running, attempt: 2, error: "flaky", startedAt: t0 + 30)
            expected.jobs[1][2] = stopped
            XCTAssertEqual(try store.workflow(id: "01JD"), expected)
            XCTAssertEqual(try store.loadActive().first { $0.id == "01JD" }, expected)

            // Every job succeeds (job 1 with no output) and the workflow with them.
            var done = WriteBatch()
            w.state = .succeeded
            w.finishedAt = t0 + 50
            w.lastEvent = 21
            done.updated = [w]
            done.events = [job(.jobSucceeded, 15, job: 0, attempt: 1, at: t0 + 40, output: [1, 2]),
                           job(.jobSucceeded, 16, job: 1, attempt: 2, at: t0 + 41),
                           job(.jobDispatched, 17, job: 2, attempt: 2, at: t0 + 42),
                           job(.jobDispatched, 18, job: 3, attempt: 1, at: t0 + 42),
                           job(.jobSucceeded, 19, job: 2, attempt: 2, at: t0 + 50, output: "ok"),
                           job(.jobSucceeded, 20, job: 3, attempt: 1, at: t0 + 50, output: nil),
                           ("01JD", EventRow(seq: 21, at: t0 + 50, kind: .workflowSucceeded))]
            try store.apply(done)
            expected = w
            expected.jobs[0][0] = JobRecord(state: .succeeded, attempt: 1, output: ["disk": "sda"], startedAt: t0 + 1, finishedAt: t0 + 2)
            expected.jobs[1] = [
                JobRecord(state: .succeeded, attempt: 1, output: [1, 2], startedAt: t0 + 10, finishedAt: t0 + 40),
                JobRecord(state: .succeeded, attempt: 2, startedAt: t0 + 30, finishedAt: t0 + 41),
                JobRecord(state: .succeeded, attempt: 2, output: "ok", startedAt: t0 + 42, finishedAt: t0 + 50, stoppedAttempts: 1),
                JobRecord(state: .succeeded, attempt: 1, startedAt: t0 + 42, finishedAt: t0 + 50),
            ]
            XCTAssertEqual(try store.workflow(id: "01JD"), expected)
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs") }, 2,
                           "rows only for the retry and the stop")
        }
    }

    /// A file a v8 broker ran reads the same under v9: its rows written at a dispatch and
    /// a success say what the events say. A job a v8 broker dispatched (its RUNNING row)
    /// whose success a v9 broker then applied (an event, no row) reads SUCCEEDED, started
    /// when its row says; a job v8 finished (its SUCCEEDED row) reads as the row.
    func testRowsAV8BrokerWroteReadTheSameBesideV9Events() throws {
        try onEveryStore { store, _ in
            var (w, submitted) = Fixture.submitted("01JK", jobs: [2])
            try store.apply(Fixture.insert((w, submitted)))
            func job(_ kind: EventKind, _ seq: Int64, job: Int, at: Int64, output: JSONValue? = nil) -> (String, EventRow) {
                ("01JK", EventRow(seq: seq, at: at, kind: kind, fields: EventFields(["attempt": 1, "block": 0, "job": .int(Int64(job))]),
                                  output: output.map(JSONText.init)))
            }
            // v8: EXEC, both dispatches with their rows, job 0's success with its row.
            w.state = .running
            w.lastEvent = 7
            var v8 = WriteBatch()
            v8.updated = [w]
            v8.jobs = [("01JK", 0, 0, JobRecord(state: .succeeded, attempt: 1, output: "v8", startedAt: t0 + 1, finishedAt: t0 + 2)),
                       ("01JK", 0, 1, JobRecord(state: .running, attempt: 1, startedAt: t0 + 1))]
            v8.events = [("01JK", EventRow(seq: 2, at: t0, kind: .workflowRunning)),
                         ("01JK", EventRow(seq: 3, at: t0, kind: .blockStarted, fields: EventFields(["block": 0]))),
                         job(.jobDispatched, 4, job: 0, at: t0 + 1), job(.jobDispatched, 5, job: 1, at: t0 + 1),
                         job(.jobSucceeded, 6, job: 0, at: t0 + 2)]
            v8.events.append(("01JK", EventRow(seq: 7, at: t0 + 2, kind: .jobProgress, fields: EventFields(["attempt": 1, "block": 0, "job": 1]))))
            try store.apply(v8)
            // v9: job 1's success, an event with its output and no row.
            var v9 = WriteBatch()
            v9.events = [job(.jobSucceeded, 8, job: 1, at: t0 + 3, output: ["v": 9])]
            try store.apply(v9)
            let read = try XCTUnwrap(try store.workflow(id: "01JK"))
            XCTAssertEqual(read.jobs[0], [JobRecord(state: .succeeded, attempt: 1, output: "v8", startedAt: t0 + 1, finishedAt: t0 + 2),
                                          JobRecord(state: .succeeded, attempt: 1, output: ["v": 9], startedAt: t0 + 1, finishedAt: t0 + 3)])
            XCTAssertEqual(read.lastEvent, 8)
        }
    }

    /// A job row the schema allows but the record cannot be (an output that is not JSON,
    /// a job index beyond the spec) reads back as a `corrupt` error naming the job, not
    /// as a crash or a silently different workflow.
    func testAnUnreadableJobRowIsReportedAsCorrupt() throws {
        try withTemporaryDatabase { path in
            let (w, e) = Fixture.submitted("01JC", jobs: [2])
            var dispatched = WriteBatch()  // the jobs' rows, written at their dispatch
            dispatched.jobs = (0..<2).map { ("01JC", 0, $0, JobRecord(state: .running, attempt: 1, startedAt: Fixture.t0)) }
            try Store(path: path).apply([Fixture.insert((w, e)), dispatched])
            let raw = try DatabaseQueue(path: path)
            try raw.write { db in try db.execute(sql: "UPDATE jobs SET output = '{\"a\":' WHERE workflow = (SELECT seq FROM workflows WHERE id = '01JC') AND idx = 1") }
            XCTAssertThrowsError(try Store(path: path).workflow(id: "01JC")) { error in
                XCTAssertTrue("\(error)".contains("corrupt store: job 01JC.0.1 output: invalid JSON"), "\(error)")
            }
            try raw.write { db in
                try db.execute(sql: "UPDATE jobs SET output = NULL WHERE workflow = (SELECT seq FROM workflows WHERE id = '01JC')")
                try db.execute(sql: "UPDATE jobs SET idx = 7 WHERE workflow = (SELECT seq FROM workflows WHERE id = '01JC') AND idx = 1")
            }
            XCTAssertThrowsError(try Store(path: path).workflow(id: "01JC")) { error in
                XCTAssertTrue("\(error)".contains("job 01JC.0.7 outside its spec"), "\(error)")
            }
            try raw.close()
        }
    }

    /// A new workflow writes no job rows: its jobs read back untouched (PENDING, attempt
    /// 0) from its spec. A job's first write makes its row, a later one replaces it, and
    /// each reads back as written; the others stay untouched.
    func testAJobHasARowFromItsFirstWriteOn() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JR", jobs: [2, 1])
            try store.apply(Fixture.insert((w, e)))
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs") }, 0)
            XCTAssertEqual(try store.workflow(id: "01JR"), w)
            XCTAssertTrue(w.jobs.joined().allSatisfy(\.isUntouched))

            let running = JobRecord(state: .running, attempt: 1, startedAt: Fixture.t0 + 1)
            var first = WriteBatch()
            first.jobs = [("01JR", 0, 1, running)]
            try store.apply(first)
            var expected = w
            expected.jobs[0][1] = running
            XCTAssertEqual(try store.workflow(id: "01JR"), expected)

            let done = JobRecord(state: .succeeded, attempt: 1, output: ["ok": true, "n": [1, .double(2.5)]], startedAt: Fixture.t0 + 1,
                                 finishedAt: Fixture.t0 + 2)
            var second = WriteBatch()
            second.jobs = [("01JR", 0, 1, done), ("01JR", 1, 0, JobRecord(state: .cancelled))]
            try store.apply(second)
            expected.jobs[0][1] = done
            expected.jobs[1][0] = JobRecord(state: .cancelled)
            XCTAssertEqual(try store.workflow(id: "01JR"), expected)
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs") }, 2)
        }
    }

    /// A job write for a workflow the store does not hold is corruption, not a new row.
    func testAJobWriteForNoWorkflowIsCorrupt() throws {
        try onEveryStore { store, _ in
            var batch = WriteBatch()
            batch.jobs = [("01NONE", 0, 0, JobRecord(state: .running, attempt: 1))]
            XCTAssertThrowsError(try store.apply(batch)) { error in
                XCTAssertTrue("\(error)".contains("no workflow row 01NONE"), "\(error)")
            }
        }
    }

    func testWorkflowWithoutKeyAndWithUnicode() throws {
        try onEveryStore { store, _ in
            var (w, e) = Fixture.submitted("01JU", name: "déploiement 日本 😀", jobs: [1])
            w.reason = "ünïcode reason"
            try store.apply(Fixture.insert((w, e)))
            XCTAssertEqual(try store.workflow(id: "01JU"), w)
            XCTAssertNil(try store.workflow(id: "01JU")?.idempotencyKey)
        }
    }

    /// LIST against a reference: every combination of filters, paged by `before` at
    /// several page sizes, gives the matching workflows newest first, each once.
    func testListFiltersAndPagesLikeTheReference() throws {
        try onEveryStore { store, _ in
            let states: [WorkflowState] = [.submitted, .running, .succeeded, .failed]
            let owners: [String?] = [nil, "k1", "k2"]
            var all: [WorkflowRecord] = []
            var batch = WriteBatch()
            for n in 0..<40 {
                var (w, e) = Fixture.submitted(String(format: "01JL%04d", n), name: n % 2 == 0 ? "a" : "b", at: t0 + Int64(n))
                w.state = states[n % states.count]
                w.owner = owners[n % owners.count]
                if w.state == .failed { w.reason = "boom \(n)"; w.finishedAt = t0 + 100 + Int64(n) }
                if w.state != .submitted { w.startedAt = t0 + 50 + Int64(n) }
                batch.inserted.append(w)
                batch.events.append((w.id, EventRow(e)))
                all.append(w)
            }
            try store.apply(batch)
            for owner in owners + [.some("nobody")] {
                for state in [nil] + states.map(Optional.some) {
                    for name in [nil, "a", "b"] {
                        let expected = all.reversed().filter {
                            (owner == nil || $0.owner == owner) && (state == nil || $0.state == state) && (name == nil || $0.spec.name == name)
                        }
                        for limit in [1, 3, 50] {
                            var seen: [WorkflowSummary] = []
                            var before: String?
                            repeat {
                                let page = try store.list(ListRequest(state: state, name: name, limit: limit, before: before, owner: owner))
                                XCTAssertLessThanOrEqual(page.workflows.count, limit)
                                seen += page.workflows
                                before = page.next
                            } while before != nil && seen.count <= all.count
                            let what = "owner \(owner ?? "-") state \(state?.rawValue ?? "-") name \(name ?? "-") limit \(limit)"
                            XCTAssertEqual(seen.map(\.id), expected.map(\.id), what)
                            for (s, w) in zip(seen, expected) {
                                XCTAssertEqual(s, WorkflowSummary(id: w.id, name: w.spec.name, state: w.state, reason: w.reason,
                                                                  submittedAt: w.submittedAt, startedAt: w.startedAt,
                                                                  finishedAt: w.finishedAt, owner: w.owner), what)
                            }
                        }
                    }
                }
            }
            XCTAssertEqual(try store.list(ListRequest(before: "no-such-id")).workflows, [], "an unknown cursor is an empty page")
        }
    }

    /// LIST by an unsettled state reads the state index whatever else it filters by: those
    /// sets stay small, while a name's or an owner's workflows grow with all history (the
    /// planner chose the name index, and "any SUBMITTED left?" walked every finished
    /// workflow of that name). A final state leaves the choice to the planner.
    func testListByAnUnsettledStateReadsTheStateIndex() throws {
        let store = try Store(path: nil)
        for state in [WorkflowState.submitted, .running, .stopped] {
            for q in [ListRequest(state: state), ListRequest(state: state, name: "a"),
                      ListRequest(state: state, name: "a", before: "01JA", owner: "k1")] {
                let plan = try store.listPlan(q).joined(separator: "; ")
                XCTAssertTrue(plan.contains("workflows_by_state"), "\(state) \(q): \(plan)")
            }
        }
        for state in WorkflowState.allCases where state.isFinal {
            XCTAssertFalse(Store.listQuery(ListRequest(state: state, name: "a")).sql.contains("INDEXED BY"), "\(state)")
        }
    }

    /// A workflow's first event (`workflow.submitted`, seq 1) writes no row since v8: a
    /// SUBMIT's commit is the workflow row alone, and both readers give the event back
    /// from that row, before the events that follow it.
    func testTheFirstEventHasNoRowAndReadsBackFromTheWorkflowRow() throws {
        try onEveryStore { store, _ in
            var (w, submitted) = Fixture.submitted("01JA", name: "erase \"disk\" ✓ \\ /")
            w.owner = "team-a"
            try store.apply(Fixture.insert((w, submitted)))
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events") }, 0)
            let running = WorkflowEvent(seq: 2, at: t0 + 7, kind: .workflowRunning)
            for (log, state) in [([submitted], WorkflowState.submitted), ([submitted, running], .running)] {
                if log.count == 2 {
                    var batch = WriteBatch()
                    w.state = .running
                    w.lastEvent = 2
                    batch.updated = [w]
                    batch.events = [("01JA", EventRow(running))]
                    try store.apply(batch)
                }
                XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 10), log)
                XCTAssertEqual(try store.eventsPage(workflowId: "01JA", after: 0, limit: 1)?.events, [submitted])
                XCTAssertEqual(try store.events(workflowId: "01JA", after: 1, limit: 10), Array(log.dropFirst()))
                XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 0), [])
                for after in 0...2 {
                    XCTAssertEqual(try store.eventsReply(workflowId: "01JA", after: Int64(after), limit: 10)?.bytes,
                                   WorkflowEvent.eventsReplyBytes(id: "01JA", state: state, events: Array(log.dropFirst(after))),
                                   "\(log.count) events, after \(after)")
                }
            }
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events") }, 1, "seq 2's row alone")
        }
    }

    /// Events folded a commit at a time (FoldedEvents) page exactly as one list: every
    /// `after` and `limit`, whatever rows the commits made, another workflow's events
    /// interleaved.
    func testEventsFoldedAcrossCommitsPageAsOneList() throws {
        try onEveryStore { store, _ in
            let (a, aSubmitted) = Fixture.submitted("01JA")
            let (b, bSubmitted) = Fixture.submitted("01JB")
            try store.apply(Fixture.insert((a, aSubmitted), (b, bSubmitted)))
            var all = [aSubmitted]
            var rng = SystemRandomNumberGenerator()
            var nextB: Int64 = 2
            while all.count < 40 {
                var batch = WriteBatch()
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    let e = WorkflowEvent(seq: Int64(all.count + 1), at: t0 + Int64(all.count), kind: .jobDispatched,
                                          fields: ["job": .int(Int64(all.count)), "job_id": .string("01JA.0.\(all.count)")])
                    batch.events.append(("01JA", EventRow(e)))
                    all.append(e)
                    if Bool.random(using: &rng) {
                        batch.events.append(("01JB", EventRow(seq: nextB, at: t0, kind: .jobSucceeded)))
                        nextB += 1
                    }
                }
                try store.apply(batch)
            }
            let rows = try store.db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE workflow = (SELECT seq FROM workflows WHERE id = '01JA')") }
            XCTAssertLessThan(try XCTUnwrap(rows), all.count, "folded: fewer rows than events")
            for after in 0...(all.count + 1) {
                for limit in [1, 2, 3, 7, 500] {
                    let expected = Array(all.dropFirst(after).prefix(limit))
                    XCTAssertEqual(try store.events(workflowId: "01JA", after: Int64(after), limit: limit), expected, "after \(after) limit \(limit)")
                }
            }
            XCTAssertEqual(try store.events(workflowId: "01JB", after: 0, limit: 500).map(\.seq), Array(1..<nextB))
            XCTAssertEqual(try store.eventsPage(workflowId: "01JA", after: 38, limit: 5)?.events, Array(all[38...].prefix(5)))
        }
    }

    /// WATCH's reply copied from the stored rows (`eventsReply`) is byte for byte the
    /// reply written from the parsed page (`eventsPage`), for every `after` and `limit`:
    /// random fields (names around and equal to at/kind/seq, non-ASCII ones, nested
    /// values), rows of one and of many events, and rows not as the writer writes them
    /// (keys out of order, spaces: a tool's or an older version's), which are parsed.
    func testTheEventsReplyIsThePageParsedAndWritten() throws {
        try onEveryStore { store, _ in
            var rng = SystemRandomNumberGenerator()
            let names = ["a", "at", "attempt", "block", "error", "job_id", "kind", "kinds", "reason", "seq", "seqs", "worker", "é"]
            let values: [JSONValue] = [.null, true, .int(-3), .double(0.25), "x", "quote \" \\ \n", "✓",
                                       ["k": [1, "v"], "a": .null], []]
            var (w, submitted) = Fixture.submitted("01JA")
            w.owner = "team-a"
            try store.apply(Fixture.insert((w, submitted)))
            var seq: Int64 = 1
            while seq < 60 {
                var batch = WriteBatch()
                for _ in 0..<Int.random(in: 1...5, using: &rng) {
                    seq += 1
                    var fields: [String: JSONValue] = [:]
                    for _ in 0..<Int.random(in: 0...4, using: &rng) { fields[names.randomElement(using: &rng)!] = values.randomElement(using: &rng)! }
                    let e = WorkflowEvent(seq: seq, at: t0 + seq * 1000, kind: EventKind.allCases.randomElement(using: &rng)!, fields: fields)
                    batch.events.append(("01JA", EventRow(e)))
                }
                try store.apply(batch)
            }
            // Two rows a writer of this code would not write: parsed, not copied.
            try store.db.write { db in
                let key = try XCTUnwrap(Int64.fetchOne(db, sql: "SELECT seq FROM workflows WHERE id = '01JA'"))
                try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (?, 61, 62, ?)", arguments: [
                    key, #"[[1700000000000,"job.dispatched",{"worker":"w","attempt":1}], [1700000000001, "job.succeeded", { "attempt" : 1 }]]"#])
                try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (?, 63, 63, ?)", arguments: [
                    key, #"[[1700000000002,"workflow.succeeded",{"reason":"done"}]]"#])
            }
            for after in 0...64 {
                for limit in [1, 2, 5, 500] {
                    let page = try XCTUnwrap(try store.eventsPage(workflowId: "01JA", after: Int64(after), limit: limit))
                    let reply = try XCTUnwrap(try store.eventsReply(workflowId: "01JA", after: Int64(after), limit: limit))
                    XCTAssertEqual(reply.owner, "team-a")
                    let expected = WorkflowEvent.eventsReplyBytes(id: "01JA", state: page.state, events: page.events)
                    XCTAssertEqual(String(decoding: reply.bytes, as: UTF8.self), String(decoding: expected, as: UTF8.self),
                                   "after \(after) limit \(limit)")
                }
            }
            XCTAssertNil(try store.eventsReply(workflowId: "01JZ", after: 0, limit: 5))
            // A corrupt row fails the same way on both paths.
            try store.db.write { db in
                try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) SELECT seq, 64, 65, '[[1,\"job.dispatched\",{}]]' FROM workflows WHERE id = '01JA'")
            }
            var pageError: (any Error)?, replyError: (any Error)?
            XCTAssertThrowsError(try store.eventsPage(workflowId: "01JA", after: 63, limit: 5)) { pageError = $0 }
            XCTAssertThrowsError(try store.eventsReply(workflowId: "01JA", after: 63, limit: 5)) { replyError = $0 }
            XCTAssertEqual(pageError.map { "\($0)" }, replyError.map { "\($0)" })
        }
    }

    func testEventsPageBySeq() throws {
        try onEveryStore { store, _ in
            let (a, aSubmitted) = Fixture.submitted("01JA")
            let (b, bSubmitted) = Fixture.submitted("01JB")
            var batch = Fixture.insert((a, aSubmitted), (b, bSubmitted))
            let kinds: [EventKind] = [.workflowRunning, .blockStarted, .jobDispatched, .jobSucceeded, .jobDispatched, .jobRetrying]
            let more = kinds.enumerated().map { n, kind in
                WorkflowEvent(seq: Int64(n + 2), at: t0 + Int64(n), kind: kind, fields: ["block": 0, "job": .int(Int64(n))])
            }
            batch.events += more.map { ("01JA", EventRow($0)) }
            try store.apply(batch)

            let all = [aSubmitted] + more
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 500), all)
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 3), Array(all[0..<3]))
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 3, limit: 3), Array(all[3..<6]))
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 6, limit: 3), Array(all[6...]))
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 7, limit: 3), [])
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 100, limit: 3), [])
            // Paging with the last seq seen as `after` reads every event once, in order.
            var seen: [WorkflowEvent] = []
            var after: Int64 = 0
            while true {
                let page = try store.events(workflowId: "01JA", after: after, limit: 2)
                if page.isEmpty { break }
                seen += page
                after = page.last!.seq
            }
            XCTAssertEqual(seen, all)
            // Another workflow's log is its own.
            XCTAssertEqual(try store.events(workflowId: "01JB", after: 0, limit: 500), [bSubmitted])
            XCTAssertEqual(try store.events(workflowId: "nope", after: 0, limit: 500), [])
        }
    }

    func testLoadActiveReturnsOnlyUnfinishedWorkflowsInSubmissionOrder() throws {
        try onEveryStore { store, _ in
            var expected: [WorkflowRecord] = []
            for (n, state) in WorkflowState.allCases.enumerated() {
                var (w, e) = Fixture.submitted("01J\(n)", key: "k\(n)", at: t0 + Int64(n))
                w.state = state
                if state != .submitted { w.startedAt = t0 + 10 }
                if state.isFinal { w.finishedAt = t0 + 20; w.reason = "because" }
                try store.apply(Fixture.insert((w, e)))
                if !state.isFinal { expected.append(w) }
            }
            XCTAssertEqual(try store.loadActive(), expected)
            XCTAssertEqual(try store.loadActive().map(\.state), [.submitted, .running, .stopped])
            XCTAssertEqual(try store.countByState(), Dictionary(uniqueKeysWithValues: WorkflowState.allCases.map { ($0, 1) }))
        }
    }

    func testLoadActiveOfAnEmptyStore() throws {
        try onEveryStore { store, _ in
            XCTAssertEqual(try store.loadActive(), [])
            XCTAssertEqual(try store.countByState(), [:])
            XCTAssertEqual(try store.list(ListRequest()).workflows, [])
        }
    }

    // MARK: Updates

    func testUpdatesOfWorkflowAndJobRows() throws {
        try onEveryStore { store, _ in
            var (w, e) = Fixture.submitted("01JA", key: "k")
            try store.apply(Fixture.insert((w, e)))

            // EXEC: the workflow runs, the first job is dispatched.
            w.state = .running
            w.startedAt = t0 + 100
            w.expiresAt = nil
            w.lastEvent = 3
            w.jobs[0][0] = JobRecord(state: .running, attempt: 1, startedAt: t0 + 100)
            var exec = WriteBatch()
            exec.updated = [w]
            exec.jobs = [(w.id, 0, 0, w.jobs[0][0])]
            exec.events = [(w.id, EventRow(seq: 2, at: t0 + 100, kind: .workflowRunning)),
                           (w.id, EventRow(seq: 3, at: t0 + 100, kind: .blockStarted, fields: EventFields(["block": 0])))]
            try store.apply(exec)
            XCTAssertEqual(try store.workflow(id: "01JA"), w)
            XCTAssertEqual(try store.workflowState(id: "01JA"), .running)

            // Results: one job succeeds with an output, the other waits for a retry.
            w.jobs[0][0] = JobRecord(state: .succeeded, attempt: 1, output: ["ok": true], startedAt: t0 + 100, finishedAt: t0 + 150)
            w.jobs[0][1] = JobRecord(state: .pending, attempt: 1, error: "flaky", startedAt: t0 + 100, finishedAt: t0 + 160,
                                     retryAt: t0 + 260)
            w.currentBlock = 0
            w.lastEvent = 4
            var results = WriteBatch()
            results.updated = [w]
            results.jobs = [(w.id, 0, 0, w.jobs[0][0]), (w.id, 0, 1, w.jobs[0][1])]
            results.events = [(w.id, EventRow(seq: 4, at: t0 + 150, kind: .jobSucceeded, fields: EventFields(["block": 0, "job": 0])))]
            try store.apply(results)
            XCTAssertEqual(try store.workflow(id: "01JA"), w)

            // The retry succeeds (the error is cleared), block 1 runs, and the workflow ends.
            w.jobs[0][1] = JobRecord(state: .succeeded, attempt: 2, output: nil, error: nil, startedAt: t0 + 260,
                                     finishedAt: t0 + 270, retryAt: nil)
            w.jobs[1][0] = JobRecord(state: .succeeded, attempt: 1, output: [], startedAt: t0 + 270, finishedAt: t0 + 280)
            w.currentBlock = 1
            w.state = .succeeded
            w.finishedAt = t0 + 280
            w.reason = nil
            w.lastEvent = 5
            var done = WriteBatch()
            done.updated = [w]
            done.jobs = [(w.id, 0, 1, w.jobs[0][1]), (w.id, 1, 0, w.jobs[1][0])]
            done.events = [(w.id, EventRow(seq: 5, at: t0 + 280, kind: .workflowSucceeded))]
            try store.apply(done)
            XCTAssertEqual(try store.workflow(id: "01JA"), w)
            XCTAssertEqual(try store.workflow(idempotencyKey: "k"), w)
            XCTAssertEqual(try store.loadActive(), [])
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 10).map(\.seq), [1, 2, 3, 4, 5])
        }
    }

    func testUpdateDoesNotTouchTheSpecOrKey() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA", key: "k")
            try store.apply(Fixture.insert((w, e)))
            var changed = w
            changed.spec = Fixture.spec("other", jobs: [1])
            changed.idempotencyKey = "other-key"
            changed.state = .cancelled
            var batch = WriteBatch()
            batch.updated = [changed]
            try store.apply(batch)
            let stored = try XCTUnwrap(try store.workflow(id: "01JA"))
            XCTAssertEqual(stored.spec, w.spec)
            XCTAssertEqual(stored.idempotencyKey, "k")
            XCTAssertEqual(stored.state, .cancelled)
        }
    }

    func testEmptyBatchIsANoOp() throws {
        try onEveryStore { store, _ in
            XCTAssertTrue(WriteBatch().isEmpty)
            try store.apply(WriteBatch())
            XCTAssertEqual(try store.loadActive(), [])
        }
    }

    // MARK: LIST

    /// Stores 7 workflows, one batch each, named a/b alternately: ids 01J1 (oldest) ... 01J7.
    private func storeSeven(_ store: Store) throws -> [WorkflowRecord] {
        var all: [WorkflowRecord] = []
        for n in 1...7 {
            var (w, e) = Fixture.submitted("01J\(n)", name: n % 2 == 1 ? "a" : "b", at: t0 + Int64(n), jobs: [1])
            w.state = [.submitted, .running, .succeeded, .failed, .running, .cancelled, .running][n - 1]
            if w.state != .submitted { w.startedAt = t0 + 10 + Int64(n) }
            if w.state.isFinal { w.finishedAt = t0 + 20 + Int64(n); w.reason = "reason \(n)" }
            try store.apply(Fixture.insert((w, e)))
            all.append(w)
        }
        return all
    }

    func testListPagesNewestFirstWithTheBeforeCursor() throws {
        try onEveryStore { store, _ in
            let all = try storeSeven(store)
            let p1 = try store.list(ListRequest(limit: 3))
            XCTAssertEqual(p1.workflows.map(\.id), ["01J7", "01J6", "01J5"])
            XCTAssertEqual(p1.next, "01J5")
            let p2 = try store.list(ListRequest(limit: 3, before: p1.next))
            XCTAssertEqual(p2.workflows.map(\.id), ["01J4", "01J3", "01J2"])
            XCTAssertEqual(p2.next, "01J2")
            let p3 = try store.list(ListRequest(limit: 3, before: p2.next))
            XCTAssertEqual(p3.workflows.map(\.id), ["01J1"])
            XCTAssertNil(p3.next, "the last page has no next")

            // Summaries carry every field, absent ones nil.
            XCTAssertEqual(p1.workflows + p2.workflows + p3.workflows, all.reversed().map(WorkflowSummary.init))
            XCTAssertEqual(JSONWriter.string(p3.workflows[0].json),
                           #"{"id":"01J1","name":"a","state":"SUBMITTED","submitted_at":"2026-11-28T12:07:18.124Z"}"#)
        }
    }

    func testListNextIsNilWhenThePageEndsExactlyAtTheLastWorkflow() throws {
        try onEveryStore { store, _ in
            _ = try storeSeven(store)
            let full = try store.list(ListRequest(limit: 7))
            XCTAssertEqual(full.workflows.count, 7)
            XCTAssertNil(full.next)
            let six = try store.list(ListRequest(limit: 6))
            XCTAssertEqual(six.next, "01J2")
            let rest = try store.list(ListRequest(limit: 1, before: "01J2"))
            XCTAssertEqual(rest.workflows.map(\.id), ["01J1"])
            XCTAssertNil(rest.next)
            XCTAssertEqual(try store.list(ListRequest(limit: 1000)).workflows.count, 7)
        }
    }

    func testListFilters() throws {
        try onEveryStore { store, _ in
            _ = try storeSeven(store)
            XCTAssertEqual(try store.list(ListRequest(state: .running)).workflows.map(\.id), ["01J7", "01J5", "01J2"])
            XCTAssertEqual(try store.list(ListRequest(name: "a")).workflows.map(\.id), ["01J7", "01J5", "01J3", "01J1"])
            XCTAssertEqual(try store.list(ListRequest(name: "b")).workflows.map(\.id), ["01J6", "01J4", "01J2"])
            XCTAssertEqual(try store.list(ListRequest(state: .running, name: "a")).workflows.map(\.id), ["01J7", "01J5"])
            XCTAssertEqual(try store.list(ListRequest(state: .expired)).workflows, [])
            XCTAssertEqual(try store.list(ListRequest(name: "A")).workflows, [], "names compare exactly")

            // Paging with a filter: the same filter and the previous page's next.
            let p1 = try store.list(ListRequest(state: .running, limit: 2))
            XCTAssertEqual(p1.workflows.map(\.id), ["01J7", "01J5"])
            XCTAssertEqual(p1.next, "01J5")
            let p2 = try store.list(ListRequest(state: .running, limit: 2, before: p1.next))
            XCTAssertEqual(p2.workflows.map(\.id), ["01J2"])
            XCTAssertNil(p2.next)

            // A cursor that does not match the filter still bounds by submission order.
            XCTAssertEqual(try store.list(ListRequest(name: "a", before: "01J4")).workflows.map(\.id), ["01J3", "01J1"])
        }
    }

    func testListWithAnUnknownCursorIsEmpty() throws {
        try onEveryStore { store, _ in
            _ = try storeSeven(store)
            let page = try store.list(ListRequest(limit: 3, before: "no-such-id"))
            XCTAssertEqual(page.workflows, [])
            XCTAssertNil(page.next)
        }
    }

    /// A stored spec must read back equal to the one stored: the broker compares a keyed
    /// SUBMIT's spec with the stored one, and the spec says that inside `args` `3` and
    /// `3.0` differ.
    func testSpecWithIntegralDoubleArgsReadsBackEqual() throws {
        try onEveryStore { store, _ in
            var (w, e) = Fixture.submitted("01JD", key: "k", jobs: [1])
            w.spec.blocks[0].jobs[0].args = ["n": .double(3)]
            try store.apply(Fixture.insert((w, e)))
            XCTAssertEqual(try store.workflow(id: "01JD")?.spec, w.spec)
        }
    }

    // MARK: Atomicity and constraints

    /// Applies `batch`, which must fail, and checks the store still holds exactly `w`.
    private func assertRefusedLeavingOnly(
        _ batch: WriteBatch, _ store: Store, _ w: WorkflowRecord?, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertThrowsError(try store.apply(batch), file: file, line: line)
        let stored = try store.list(ListRequest(limit: 1000)).workflows.map(\.id)
        XCTAssertEqual(stored, w.map { [$0.id] } ?? [], "nothing of the failed batch is stored", file: file, line: line)
        if let w {
            XCTAssertEqual(try store.workflow(id: w.id), w, file: file, line: line)
            XCTAssertEqual(try store.events(workflowId: w.id, after: 0, limit: 100).map(\.seq), Array(1...w.lastEvent),
                           file: file, line: line)
        }
        for id in batch.inserted.map(\.id) where id != w?.id {
            XCTAssertNil(try store.workflow(id: id), file: file, line: line)
            XCTAssertEqual(try store.events(workflowId: id, after: 0, limit: 100), [], file: file, line: line)
        }
        XCTAssertEqual(try store.integrityCheck(), "ok", file: file, line: line)
    }

    func testSameWorkflowIdTwiceInOneBatchStoresNothing() throws {
        try onEveryStore { store, _ in
            let a = Fixture.submitted("01JA", key: "k1")
            let b = Fixture.submitted("01JA", key: "k2")
            try assertRefusedLeavingOnly(Fixture.insert(a, b), store, nil)
        }
    }

    func testSameIdempotencyKeyTwiceStoresNothingOfTheBatch() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA", key: "shared")
            try store.apply(Fixture.insert((w, e)))

            // A batch that first does valid work (a new workflow, an update, events) and
            // then reuses the key: all of it must be rolled back.
            var batch = Fixture.insert(Fixture.submitted("01JB", key: "fresh"), Fixture.submitted("01JC", key: "shared"))
            var running = w
            running.state = .running
            running.lastEvent = 2
            batch.updated = [running]
            batch.jobs = [(w.id, 0, 0, JobRecord(state: .running, attempt: 1))]
            batch.events.append((w.id, EventRow(seq: 2, at: t0, kind: .workflowRunning)))
            try assertRefusedLeavingOnly(batch, store, w)
        }
    }

    func testSameIdTwiceAcrossBatchesIsRefused() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA")
            try store.apply(Fixture.insert((w, e)))
            try assertRefusedLeavingOnly(Fixture.insert(Fixture.submitted("01JA", name: "other")), store, w)
        }
    }

    func testDuplicateEventSeqIsRefused() throws {
        try onEveryStore { store, _ in
            var (w, e) = Fixture.submitted("01JA")
            w.lastEvent = 2
            var first = Fixture.insert((w, e))
            first.events.append((w.id, EventRow(seq: 2, at: t0, kind: .workflowRunning)))
            try store.apply(first)
            var batch = Fixture.insert(Fixture.submitted("01JB"))
            batch.events.append((w.id, EventRow(seq: 2, at: t0 + 1, kind: .workflowRunning)))
            try assertRefusedLeavingOnly(batch, store, w)
        }
    }

    /// Seq 1 is the workflow's implied `workflow.submitted` (no row since v8): another
    /// event numbered 1 is refused as the stored one's key refused it before.
    func testAnotherEventNumberedOneIsRefused() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA")
            try store.apply(Fixture.insert((w, e)))
            var batch = Fixture.insert(Fixture.submitted("01JB"))
            batch.events.append((w.id, EventRow(seq: 1, at: t0, kind: .workflowRunning)))
            try assertRefusedLeavingOnly(batch, store, w)
        }
    }

    /// On every connection, the broker's included: an event names its workflow by seq,
    /// which `apply` finds from the id, and an id with no workflow row is refused there.
    func testEventOfAnUnknownWorkflowIsRefused() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA")
            try store.apply(Fixture.insert((w, e)))
            var batch = Fixture.insert(Fixture.submitted("01JB"))
            batch.events.append(("01JZ", EventRow(seq: 1, at: t0, kind: .workflowRunning)))
            try assertRefusedLeavingOnly(batch, store, w)
        }
    }

    func testSchemaChecksRefuseImpossibleValues() throws {
        try onEveryStore { store, _ in
            let (w, e) = Fixture.submitted("01JA")
            try store.apply(Fixture.insert((w, e)))

            var negativeBlock = w
            negativeBlock.currentBlock = -1
            var b1 = WriteBatch()
            b1.updated = [negativeBlock]
            try assertRefusedLeavingOnly(b1, store, w)

            var negativeAttempt = WriteBatch()
            negativeAttempt.jobs = [(w.id, 0, 0, JobRecord(state: .running, attempt: -1))]
            try assertRefusedLeavingOnly(negativeAttempt, store, w)

            var seqZero = WriteBatch()
            seqZero.events = [(w.id, EventRow(seq: 0, at: t0, kind: .workflowRunning))]
            try assertRefusedLeavingOnly(seqZero, store, w)
        }
    }

    func testAStoreKeepsWorkingAfterARefusedBatch() throws {
        try onEveryStore { store, _ in
            let a = Fixture.submitted("01JA")
            XCTAssertThrowsError(try store.apply(Fixture.insert(a, a)))
            try store.apply(Fixture.insert(a))
            XCTAssertEqual(try store.workflow(id: "01JA"), a.0)
        }
    }

    // MARK: Files and pragmas

    func testReopeningTheFileGivesTheSameData() throws {
        try withTemporaryDatabase { path in
            var expected: [WorkflowRecord] = []
            var events: [WorkflowEvent] = []
            do {
                let store = try Store(path: path)
                expected = try storeSeven(store)
                var w = expected[1]
                w.jobs[0][0] = JobRecord(state: .succeeded, attempt: 3, output: ["k": "v"], error: "earlier", startedAt: t0,
                                         finishedAt: t0 + 1, retryAt: t0 + 2)
                w.lastEvent = 2
                expected[1] = w
                var batch = WriteBatch()
                batch.updated = [w]
                batch.jobs = [(w.id, 0, 0, w.jobs[0][0])]
                batch.events = [(w.id, EventRow(seq: 2, at: t0, kind: .jobSucceeded, fields: EventFields(["job_id": "01J2.0.0"])))]
                try store.apply(batch)
                events = try store.events(workflowId: w.id, after: 0, limit: 10)
            }
            // The first store is released (its connection closed); open the file again.
            let reopened = try Store(path: path)
            for w in expected { XCTAssertEqual(try reopened.workflow(id: w.id), w) }
            XCTAssertEqual(try reopened.events(workflowId: "01J2", after: 0, limit: 10), events)
            XCTAssertEqual(events.count, 2)
            XCTAssertEqual(try reopened.loadActive().map(\.id), ["01J1", "01J2", "01J5", "01J7"])
            XCTAssertEqual(try reopened.list(ListRequest(limit: 3)).workflows.map(\.id), ["01J7", "01J6", "01J5"])
            XCTAssertEqual(try reopened.integrityCheck(), "ok")
            // Migrations ran once: the second open did not fail on existing tables, and
            // new rows keep the submission order.
            try reopened.apply(Fixture.insert(Fixture.submitted("01J8")))
            XCTAssertEqual(try reopened.list(ListRequest(limit: 1)).workflows.map(\.id), ["01J8"])
        }
    }

    func testIntegrityCheckIsOK() throws {
        try onEveryStore { store, _ in
            XCTAssertEqual(try store.integrityCheck(), "ok")
            _ = try storeSeven(store)
            XCTAssertEqual(try store.integrityCheck(), "ok")
        }
    }

    /// Spec §10.2: "WAL mode with `synchronous=FULL`".
    func testDiskStoreIsWALWithFullSync() throws {
        try withTemporaryDatabase { path in
            let store = try Store(path: path)
            _ = try storeSeven(store)
            XCTAssertEqual(try store.db.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }, "wal")
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") }, 2, "FULL")
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }, 1)
            // WAL is recorded in the file itself: header bytes 18 and 19 are 2 (1 = rollback journal).
            let header = try XCTUnwrap(FileHandle(forReadingAtPath: path)).readData(ofLength: 100)
            XCTAssertEqual(Array(header.prefix(16)), Array("SQLite format 3\0".utf8))
            XCTAssertEqual(header[18], 2)
            XCTAssertEqual(header[19], 2)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-wal"))
            // A second connection to the same file sees the same mode.
            let second = try Store(path: path)
            XCTAssertEqual(try second.db.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }, "wal")
            XCTAssertEqual(try second.db.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") }, 2)
            XCTAssertEqual(try second.list(ListRequest(limit: 1000)).workflows.count, 7)
        }
    }

    /// The broker's connection does not enforce the foreign keys (each job and event
    /// insert would probe the workflows' primary key); a tool's does. `apply` refuses a
    /// child of an unknown workflow on both (it must find the workflow's seq), and a row
    /// left without its workflow anyway (written by hand) is what `integrityCheck` (and
    /// `baton db check`) reports.
    func testTheBrokersConnectionLeavesForeignKeysToIntegrityCheck() throws {
        try withTemporaryDatabase { path in
            do {
                let owner = try Store(path: path, access: .owner)
                defer { try? owner.close() }
                XCTAssertEqual(try owner.db.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }, 0)
                _ = try storeSeven(owner)
                XCTAssertEqual(try owner.integrityCheck(), "ok")
                var batch = WriteBatch()
                batch.events = [("01NOSUCHWORKFLOW", EventRow(seq: 2, at: Fixture.t0, kind: .workflowRunning))]
                XCTAssertThrowsError(try owner.apply(batch)) { error in
                    XCTAssertEqual("\(error)", "corrupt store: no workflow row 01NOSUCHWORKFLOW")
                }
                try owner.db.write { db in
                    try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (424242, 1, 1, '[]'), (424242, 2, 2, '[]')")
                }
                XCTAssertEqual(try owner.integrityCheck(), "2 events rows without their workflow")
            }
            let tool = try Store(path: path)
            XCTAssertEqual(try tool.db.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }, 1)
            XCTAssertThrowsError(try tool.db.write { db in
                try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (424242, 3, 3, '[]')")
            }, "a tool's connection still enforces them")
        }
    }

    /// SQLite gives a rolled-back or deleted workflow's seq to the next insert, so the
    /// store's id → seq cache must forget it: a later write for the old id is refused,
    /// never attached to the new workflow.
    func testASeqGivenAgainNeverCarriesAnotherWorkflowsRows() throws {
        try onEveryStore { store, _ in
            let (a, aSubmitted) = Fixture.submitted("01JA")
            try store.apply(Fixture.insert((a, aSubmitted)))
            // 01JX is inserted, then its transaction fails (an event with seq 0).
            var failing = Fixture.insert(Fixture.submitted("01JX"))
            failing.events.append(("01JX", EventRow(seq: 0, at: t0, kind: .workflowRunning)))
            XCTAssertThrowsError(try store.apply(failing))
            let (y, ySubmitted) = Fixture.submitted("01JY")
            try store.apply(Fixture.insert((y, ySubmitted)))
            var late = WriteBatch()
            late.events = [("01JX", EventRow(seq: 2, at: t0, kind: .workflowRunning))]
            XCTAssertThrowsError(try store.apply(late), "01JX was rolled back: its seq now belongs to 01JY")
            XCTAssertEqual(try store.events(workflowId: "01JY", after: 0, limit: 10), [ySubmitted])

            // The same after retention deletes the newest workflow.
            var finished = y
            finished.state = .succeeded
            finished.finishedAt = t0 + 1
            var finish = WriteBatch()
            finish.updated = [finished]
            try store.apply(finish)
            XCTAssertEqual(try store.deleteFinished(before: t0 + 2, limit: 10).deleted, 1)
            let (z, zSubmitted) = Fixture.submitted("01JZ")
            try store.apply(Fixture.insert((z, zSubmitted)))
            late.events = [("01JY", EventRow(seq: 2, at: t0, kind: .workflowRunning))]
            XCTAssertThrowsError(try store.apply(late), "01JY was deleted")
            XCTAssertEqual(try store.events(workflowId: "01JZ", after: 0, limit: 10), [zSubmitted])
            XCTAssertEqual(try store.workflow(id: "01JZ"), z)
            XCTAssertEqual(try store.workflow(id: "01JA"), a)
        }
    }

    /// The store's id → seq map keeps only workflows that may still be written: a
    /// finished one leaves it with its final update (the broker's memory must not grow
    /// with every workflow it ever ran).
    func testFinishedWorkflowsLeaveTheKeyMap() throws {
        try onEveryStore { store, _ in
            let items = (0..<3).map { Fixture.submitted("01JK\($0)") }
            var batch = WriteBatch()
            for (w, e) in items { batch.inserted.append(w); batch.events.append((w.id, EventRow(e))) }
            try store.apply(batch)
            XCTAssertEqual(store.cachedWorkflowKeys, 3)
            var finish = WriteBatch()
            for (w, _) in items.prefix(2) {
                var done = w
                done.state = .succeeded
                done.finishedAt = t0 + 5
                done.lastEvent = 2
                finish.updated.append(done)
                finish.events.append((w.id, EventRow(seq: 2, at: t0 + 5, kind: .workflowSucceeded)))
            }
            try store.apply(finish)
            XCTAssertEqual(store.cachedWorkflowKeys, 1)
            XCTAssertEqual(try store.events(workflowId: "01JK0", after: 1, limit: 10).map(\.kind), [.workflowSucceeded],
                           "the final turn's events were written before the entry went")
        }
    }

    func testInMemoryStoreAlsoSyncsFull() throws {
        let store = try Store(path: nil)
        XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") }, 2)
        XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }, 1)
    }
}
