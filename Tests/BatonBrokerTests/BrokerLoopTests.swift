import BatonStore
import BatonWire
import Logging
import XCTest
import ZeroMQ

@testable import BatonBroker

/// The loop around the engine, on real ROUTER sockets over loopback.
final class BrokerLoopTests: XCTestCase {
    private var context: Context!
    private var store: Store!
    private var committer: Committer!
    private var loop: BrokerLoop!
    private var client: Socket!

    override func setUpWithError() throws {
        context = try Context()
        store = try Store(path: nil)
        committer = try Committer(store: store, reads: ReadSide(store: store, pageSize: 100))
        let clients = try router()
        let workers = try router()
        loop = BrokerLoop(engine: Engine(config: EngineConfig()), store: store, committer: committer, clients: clients,
                          workers: workers, logger: Logger(label: "test"), options: BrokerOptions())
        client = try context.socket(.dealer)
        try client.setLinger(0)
        try client.connect(try clients.lastEndpoint)
    }

    override func tearDown() {
        client?.close(linger: 0)
        loop?.clients.close(linger: 0)
        loop?.workers.close(linger: 0)
        committer?.stop()
        loop = nil
        committer = nil
    }

    private func router() throws -> Socket {
        let s = try context.socket(.router)
        try s.setRouterMandatory(true)
        try s.setLinger(0)
        try s.bind("tcp://127.0.0.1:*")
        return s
    }

    /// Waits (bounded, against hangs) until the loop's client socket has input.
    private func waitForInput() throws {
        var poller = try Poller([.socket(loop.clients)])
        XCTAssertEqual(try poller.poll(timeoutMs: 5000), [true], "the request reached the broker's socket")
    }

    private struct NoReply: Error {}

    /// The next reply to the test's client, waited for with a bound against hangs.
    private func reply() throws -> ClientFrames.Reply {
        var poller = try Poller([.socket(client)])
        guard try poller.poll(timeoutMs: 5000) == [true], let frames = try client.receive(dontWait: true) else {
            throw NoReply()
        }
        return try ClientFrames.decodeReply(frames)
    }

    /// While memory cannot be rebuilt no turn runs, so an ERROR queued in the engine
    /// would wait for the store to recover: every request is answered at once instead,
    /// a malformed one with its own error, a valid one with `unavailable`.
    func testWhileReloadFailsEveryRequestIsAnsweredAtOnce() throws {
        loop.recovery = .reloadFailing(lastAttempt: .now)
        XCTAssertTrue(try client.send([[], ClientFrames.protocolId, Array("NOPE".utf8), Array("t1".utf8), Array("{}".utf8)]))
        XCTAssertTrue(try client.send(ClientFrames.encodeRequest(.ping, tag: Array("t2".utf8))))
        try waitForInput()
        XCTAssertTrue(try loop.refusedWhileReloadFails(), "a failing reload handles the turn by refusing")
        var replies = [try reply()]
        // The PING may have reached the socket after the first drain: drain again.
        _ = try loop.refusedWhileReloadFails()
        replies.append(try reply())
        let byTag = Dictionary(uniqueKeysWithValues: replies.map { (String(decoding: $0.tag, as: UTF8.self), $0) })
        XCTAssertEqual(byTag["t1"]?.command, .error)
        XCTAssertEqual(byTag["t1"]?.body["code"], "unknown_command")
        XCTAssertEqual(byTag["t2"]?.command, .error)
        XCTAssertEqual(byTag["t2"]?.body["code"], "unavailable")
        XCTAssertEqual(loop.engine.workflowsInMemory, 0)
    }

    /// The loop answers reads too (when nothing is in flight): with the committer's
    /// `ReadSide`, so the finished records it keeps are the ones the commits drop.
    func testTheLoopAndTheCommitterShareOneCacheOfFinishedRecords() {
        XCTAssertTrue(loop.reads.finished === committer.reads.finished)
    }

    func testAHealthyLoopDoesNotRefuse() throws {
        XCTAssertFalse(try loop.refusedWhileReloadFails())
    }

    func testAReloadThatSucceedsEndsTheRefusals() throws {
        loop.recovery = .reloadFailing(lastAttempt: .now - .seconds(1))
        XCTAssertFalse(try loop.refusedWhileReloadFails(), "the retry was due and the store reads fine")
        guard case .healthy = loop.recovery else { return XCTFail("still \(loop.recovery)") }
    }

    /// A keyed SUBMIT makes a round trip through the loop: parked, looked up after its
    /// turn, decided in the next, its ID sent after that turn's commit.
    func testAKeyedSubmitIsAnsweredAfterItsLookup() throws {
        let body = SubmitRequest(workflow: spec([jobs(1)]), idempotencyKey: "loop-key").body
        XCTAssertTrue(try client.send(ClientFrames.encodeRequest(.submit, tag: Array("s".utf8), body: body)))
        try waitForInput()
        try loop.runTurn(now: 1_800_000_000_000)
        XCTAssertEqual(loop.answeredLookups.map(\.key), ["loop-key"], "asked and answered at once: nothing was in flight")
        try loop.runTurn(now: 1_800_000_000_000)
        loop.waitForCommits()
        let r = try reply()
        XCTAssertEqual(r.command, .id)
        XCTAssertEqual(try store.workflow(idempotencyKey: "loop-key")?.id, r.body["id"]?.stringValue)
    }

    private func sendSubmit(_ tag: String) throws {
        XCTAssertTrue(try client.send(ClientFrames.encodeRequest(.submit, tag: Array(tag.utf8),
                                                                 body: SubmitRequest(workflow: spec([jobs(1)])).body)))
    }

    /// A lone SUBMIT on an idle broker is committed on the loop's thread: its ID is sent
    /// when the turn ends, with no turn left in flight.
    func testALoneTurnIsCommittedOnTheLoopsThread() throws {
        try sendSubmit("lone")
        try waitForInput()
        try loop.runTurn(now: 1_800_000_000_000)
        XCTAssertEqual(loop.inFlight, 0, "committed and carried out within the turn")
        XCTAssertEqual(committer.stats().count, 1)
        let r = try reply()
        XCTAssertEqual(r.command, .id)
        XCTAssertNotNil(try store.workflow(id: r.body["id"]?.stringValue ?? ""))
    }

    /// A large turn, or the small one right after it (the front of a pipelining client's
    /// next wave), goes to the committer's thread, so the loop decides the next turn
    /// while it commits.
    func testATurnUnderLoadGoesToTheCommittersThread() throws {
        for i in 0..<(BrokerLoop.lowLoadMessages + 1) { try sendSubmit("wave\(i)") }
        try waitForInputToSettle()
        try loop.runTurn(now: 1_800_000_000_000)
        XCTAssertEqual(loop.inFlight, 1, "a large turn is handed over")
        loop.waitForCommits()
        try sendSubmit("after")
        try waitForInput()
        try loop.runTurn(now: 1_800_000_000_000)
        XCTAssertEqual(loop.inFlight, 1, "the small turn after a large one is handed over too")
        loop.waitForCommits()
        var tags: Set<String> = []
        for _ in 0..<(BrokerLoop.lowLoadMessages + 2) { tags.insert(String(decoding: try reply().tag, as: UTF8.self)) }
        XCTAssertEqual(tags, Set((0..<(BrokerLoop.lowLoadMessages + 1)).map { "wave\($0)" } + ["after"]))
    }

    /// A small turn while another message already waits on a socket is handed over too.
    func testASmallTurnWithInputWaitingGoesToTheCommittersThread() throws {
        loop = BrokerLoop(engine: Engine(config: EngineConfig()), store: store, committer: committer, clients: loop.clients,
                          workers: loop.workers, logger: Logger(label: "test"), options: { var o = BrokerOptions(); o.maxBatch = 1; return o }())
        try sendSubmit("first")
        try sendSubmit("second")
        try waitForInputToSettle()
        try loop.runTurn(now: 1_800_000_000_000)
        XCTAssertEqual(loop.inFlight, 1, "the second SUBMIT waits on the socket: the first is handed over")
        loop.waitForCommits()
        XCTAssertEqual(try reply().command, .id)
    }

    /// Waits until the requests just sent sit in the loop's client socket. libzmq cannot
    /// count what a socket holds, so: the first is there, and the rest, sent with it over
    /// loopback, arrive within microseconds; 50 ms is a margin for a loaded machine.
    private func waitForInputToSettle() throws {
        try waitForInput()
        usleep(50_000)
    }

    /// Spec §3.4: a connection holding its cap of unread replies gets nothing and its
    /// requests are dropped unread, until what it holds drains.
    func testAConnectionOverItsCapIsNotServedUntilItsRepliesDrain() throws {
        let peer = PeerId(Array("slow-reader".utf8))
        let slow = try context.socket(.dealer)
        defer { slow.close(linger: 0) }
        try slow.setLinger(0)
        try slow.setRoutingId(peer.bytes)
        try slow.connect(try loop.clients.lastEndpoint)
        func ping(_ tag: String) throws -> ClientFrames.Reply? {
            XCTAssertTrue(try slow.send(ClientFrames.encodeRequest(.ping, tag: Array(tag.utf8))))
            try waitForInput()
            try loop.runTurn(now: 1_800_000_000_000)
            var poller = try Poller([.socket(slow)])
            guard try poller.poll(timeoutMs: 500) == [true], let frames = try slow.receive(dontWait: true) else { return nil }
            return try ClientFrames.decodeReply(frames)
        }
        XCTAssertEqual(try ping("first")?.command, .pong)
        // As if 8 MiB of its replies were still queued in libzmq.
        let cap = loop.queuedReplies.capPerPeer
        loop.queuedReplies.add(peer, cap)
        XCTAssertNil(try ping("while over"), "dropped unread")
        loop.queuedReplies.release(peer, cap)
        XCTAssertEqual(try ping("after")?.tag, Array("after".utf8), "served again; the dropped request stays dropped")
    }
}
