import BatonKeys
import BatonStore
import BatonWire
import Logging
import ZeroMQ

/// The broker's event loop, and the one owner of what it touches: the two ROUTER
/// sockets, the engine and the committer handle. Everything here runs on the loop's
/// thread (not `Sendable`: it never leaves it).
///
/// One turn: feed the engine the key lookups answered since the last turn; drain what
/// the sockets hold (bounded); tick the engine's timers; hand the turn's output to the
/// `Committer`. Only when the committer hands a turn back committed are its replies,
/// job dispatches and deferred reads sent, in turn order. Up to `maxInFlight` turns may
/// be queued or committing while the loop decides the next: memory runs ahead of the
/// store by at most that many turns, and nothing of them is visible outside before its
/// commit. A failed commit is handled in one place: `BrokerLoop+Recovery.swift`.
/// What other threads hand the loop between turns.
struct PendingChanges: Sendable {
    /// New policies and limits (SIGHUP).
    var settings: RuntimeSettings?
    /// The emergency stop file's stops, after it changed.
    var fileStops: [String: StopRecord]?
    /// Finished backups' replies (`BackupRunner`).
    var replies: [ClientReply] = []
}

final class BrokerLoop {
    var engine: Engine
    let store: Store
    let reads: ReadSide
    let committer: Committer
    let clients: Socket
    let workers: Socket
    let logger: Logger
    /// Most messages read from each socket in one turn; the largest request body answered.
    let maxBatch: Int
    let maxMessageBytes: Int
    /// Bytes of replies each client connection has not read yet (spec §3.4).
    let queuedReplies: QueuedReplies
    /// Takes what `BrokerServer.reconfigure` and the stop file's watcher handed over.
    let takeChanges: @Sendable () -> PendingChanges
    /// The keys in force when the broker runs CURVE (nil: plain mode, every caller is
    /// `Caller.plain`). Read at each drain, so a reload that removes a key stops its
    /// open connections from being served at their next message.
    let keys: KeyRingBox?
    /// Writes BACKUPs on its own thread (nil: BACKUP is answered `unavailable`).
    let backups: BackupRunner?

    /// Turns handed to the committer and not yet back.
    var inFlight = 0
    /// Messages the previous turn read (see `lowLoadMessages`).
    private var previousTurnMessages = 0
    /// Whether a failed commit is being recovered from (see `Recovery`).
    var recovery = Recovery.healthy
    /// Key lookups answered since the last turn; the next turn hands them to the engine.
    var answeredLookups: [KeyLookup] = []
    /// Workers a send failed to; the engine drops them at the next turn.
    var unreachableWorkers: Set<PeerId> = []
    /// The engine's steady clock and the wall clock (`EngineClock`).
    let clock: EngineClock
    /// Turns, requests and ERRORs as the loop saw them, for STATS.
    var stats: ServerStats
    /// Bounds the log lines peers can cause.
    private var logThrottle = LogThrottle()
    /// Whether workflows were held in memory since the heap was last trimmed.
    private var heldWorkflows = false
    /// The last message read from each socket: their arrays' storage is reused for the
    /// next (`Socket.receive(into:)`).
    private var clientFrames: [[UInt8]] = []
    private var workerFrames: [[UInt8]] = []
    private var lastTrim = ContinuousClock.now

    /// Turns that may be in flight at once.
    static let maxInFlight = 4

    init(engine: Engine, store: Store, committer: Committer, clients: Socket, workers: Socket, logger: Logger,
         options: BrokerOptions, keys: KeyRingBox? = nil, backups: BackupRunner? = nil,
         takeChanges: @escaping @Sendable () -> PendingChanges = { PendingChanges() }) {
        self.takeChanges = takeChanges
        self.backups = backups
        self.keys = keys
        self.engine = engine
        self.store = store
        // The committer's: one cache of finished records, which its commits keep true.
        reads = committer.reads
        self.committer = committer
        self.clients = clients
        self.workers = workers
        self.logger = logger
        maxBatch = options.maxBatch
        maxMessageBytes = options.maxMessageBytes
        queuedReplies = QueuedReplies(capPerPeer: options.maxQueuedReplyBytes)
        clock = EngineClock(wall: options.wallClock)
        stats = ServerStats(startedAt: clock.wallNow(), databasePath: options.databasePath)
    }

    /// Whether the loop may read and decide another turn now.
    var canStartTurn: Bool { recovery.decidesTurns && inFlight < Self.maxInFlight }

    // MARK: Running

    /// Runs turns until `stop` is readable, then stops gracefully: what is in flight is
    /// committed and sent, workers get DISCONNECT.
    func run(until stop: WakePipe, settingsChanged: WakePipe? = nil) throws {
        // While the committer is full (or a failed commit is being unwound), only its
        // wake-up and the stop pipe are polled: the sockets would be readable at once.
        let changed = settingsChanged ?? stop
        var all = try Poller([.fd(stop.readFd), .fd(committer.readyFd), .socket(clients), .socket(workers), .fd(changed.readFd)])
        var busy = try Poller([.fd(stop.readFd), .fd(committer.readyFd)])
        while true {
            let pollsSockets = canStartTurn
            let ready = pollsSockets ? try all.poll(timeoutMs: waitMs()) : try busy.poll(timeoutMs: 1000)
            if ready[0] { break }
            if ready[1] { takeCommitted() }
            if pollsSockets && ready[4], settingsChanged != nil {
                changed.drain()
                let changes = takeChanges()
                if let settings = changes.settings {
                    // A reload must never take the broker down: on a failed read the
                    // config in force stays.
                    do {
                        try apply(settings)
                    } catch {
                        log(.error, "reload: cannot read the start times of limited workflow names (\(error)); keeping the config in force")
                    }
                }
                if let stops = changes.fileStops { engine.useFileStops(stops, now: engineNow()) }
                for reply in changes.replies {
                    log(reply.command == .ok ? .info : .warning, "backup finished: \(JSONWriter.string(reply.body))")
                    sendClient(reply)
                }
            }
            trimHeapIfIdle()
            guard canStartTurn else { continue }
            let now = engineNow()
            // After a busy wait the sockets were not polled: they may hold messages.
            let messages = !pollsSockets || ready[2] || ready[3] || ready[4]
            guard messages || hasWork(now: now) else { continue }
            if try refusedWhileReloadFails() { continue }
            try runTurn(now: now)
        }
        logger.info("stopping: telling workers to disconnect")
        waitForCommits()
        engine.disconnectAllWorkers(reason: "broker shutting down")
        finishTurn(now: engineNow())
        waitForCommits()
    }

    /// The engine's `now`, with the wall clock handed to the engine for its timestamps.
    func engineNow() -> Int64 {
        let now = clock.now()
        engine.observeWallClock(clock.wallNow(), at: now)
        return now
    }

    /// Rebuilds the engine's memory from the store: RUNNING and STOPPED workflows whole,
    /// SUBMITTED ones dormant (id, owner, expiry), so a start over a million SUBMITTED
    /// workflows reads three columns of each instead of their specs and jobs.
    @discardableResult
    func restoreFromStore() throws -> (running: Int, submitted: Int) {
        let active = try store.loadActive(includingSubmitted: false)
        let dormant = try store.loadSubmitted()
        engine.restore(active, dormant: dormant, stops: try store.loadStops(), now: engineNow())
        return (active.count, dormant.count)
    }

    /// Puts policies and limits in force, between turns. The start windows of limited
    /// workflow names are rebuilt from the store's `started_at` times, read once nothing
    /// is in flight (so the read never waits for a commit, and sees every start): a
    /// reload pauses the loop for that read, a restart is never a free burst.
    func apply(_ settings: RuntimeSettings) throws {
        waitForCommits()
        let now = engineNow()
        let wallNow = clock.wallNow()
        var recentStarts: [String: [Int64]] = [:]  // stored: wall-clock times
        for (name, limit) in settings.limits.workflows {
            if let window = limit.rate { recentStarts[name] = try store.startTimes(name: name, since: wallNow - window.periodMs) }
        }
        engine.usePolicies(settings.policies)
        engine.useLimits(settings.limits, recentStarts: recentStarts, now: now)
        logger.info("in force: \(settings.policies.policies.count) polic(ies), default \(settings.policies.defaultDecision.rawValue); limits on \(settings.limits.jobTypes.count) job type(s), \(settings.limits.workflows.count) workflow name(s)\(settings.limits.clients.map { ", \($0.maxInFlight) requests in flight per client" } ?? "")")
    }

    /// Work that needs a turn though no message came: answered lookups, unreachable
    /// workers, a due timer.
    private func hasWork(now: Int64) -> Bool {
        !answeredLookups.isEmpty || !unreachableWorkers.isEmpty || now >= engine.nextDeadline() || recovery.reloadRetryDue
    }

    /// How long the next poll may wait: until the engine's next deadline, at most 1 s,
    /// or half that while a reload keeps failing (and not at all when work is waiting).
    private func waitMs() -> Int {
        if !answeredLookups.isEmpty || !unreachableWorkers.isEmpty { return 0 }
        let cap: Int64 = recovery.isReloadFailing ? 500 : 1000
        return Int(max(0, min(engine.nextDeadline() - clock.now(), cap)))
    }

    func runTurn(now: Int64) throws {
        if !answeredLookups.isEmpty {
            engine.keysLookedUp(answeredLookups, now: now)
            answeredLookups = []
        }
        for peer in unreachableWorkers { engine.workerUnreachable(peer, now: now) }
        unreachableWorkers = []
        let messages = try drainClients(now: now) + drainWorkers(now: now)
        stats.countTurn(messages: messages)
        engine.tick(now: now)
        let lowLoad = messages <= Self.lowLoadMessages && previousTurnMessages <= Self.lowLoadMessages
        previousTurnMessages = messages
        finishTurn(now: now, lowLoad: lowLoad)
    }

    /// Returns how many messages it read.
    private func drainClients(now: Int64) throws -> Int {
        let ring = keys?.current
        for read in 0..<maxBatch {
            let (received, userId) = try clients.receive(into: &clientFrames, dontWait: true, userId: ring != nil)
            guard received else { return read }
            // A copy for this message only (a retain), released before the next receive,
            // so that it can reuse the frames' storage (`Socket.receive(into:)`).
            let frames = clientFrames
            guard let routingId = frames.first, frames.count > 1 else { continue }
            let peer = PeerId(routingId)
            stats.requests += 1
            if droppedOverCap(peer, "request dropped unread") { continue }
            do throws(ClientFrames.Rejection) {
                let request = try ClientFrames.decodeRequest(frames.dropFirst(), maxBytes: maxMessageBytes, typedBodies: true)
                guard let caller = caller(userId, in: ring) else {
                    // ZAP admitted the key when it connected; a reload removed it since.
                    engine.replyError(peer, request.tag, WireError(.forbidden, "this connection's key is no longer allowed (removed from the allowlists)"))
                    continue
                }
                engine.handleClient(peer, request, as: caller, now: now)
            } catch {
                engine.replyError(peer, error.tag, error.error)
            }
        }
        return maxBatch
    }

    /// Who sent a client request: `.plain` without keys; with keys, the member holding
    /// the connection's key (its ZAP User-Id), or nil when no allowlist admits it now.
    private func caller(_ userId: String?, in ring: KeyRing?) -> Caller? {
        guard let ring else { return .plain }
        guard let userId, ring.admits(userId, to: .clients), let member = ring.member(userId) else { return nil }
        return Caller(name: member.name, isAdmin: member.roles.contains(.admin))
    }

    /// Returns how many messages it read.
    private func drainWorkers(now: Int64) throws -> Int {
        let ring = keys?.current
        for read in 0..<maxBatch {
            let (received, userId) = try workers.receive(into: &workerFrames, dontWait: true, userId: ring != nil)
            guard received else { return read }
            let frames = workerFrames  // as in drainClients
            guard let routingId = frames.first, frames.count > 1 else { continue }
            let peer = PeerId(routingId)
            if let ring, !(userId.map { ring.admits($0, to: .workers) } ?? false) {
                // A reload removed this worker's key: its attempts are retried elsewhere
                // (the engine logs the worker's loss by name).
                engine.disconnectWorker(peer, code: .keyRemoved, reason: "key no longer allowed", now: now)
                continue
            }
            do throws(WireError) {
                engine.handleWorker(peer, try WorkerFrames.decode(frames.dropFirst(), typedResult: true), bodyBytes: frames.last?.count ?? 0, now: now)
            } catch {
                log(.warning, "dropped malformed worker message: \(error)")
                answerOtherVersion(peer, frames, now: now)
            }
        }
        return maxBatch
    }

    /// A worker speaking another version of BATON-W (frame 1 `BATON-W/...` but not ours)
    /// is told so, in our version, rather than left waiting for a HEARTBEAT that never
    /// comes: DISCONNECT with code `unsupported_version`. Other malformed messages get no
    /// reply (spec §9.1): they are not a worker's, and a reply would only feed a flood.
    private func answerOtherVersion(_ peer: PeerId, _ frames: [[UInt8]], now: Int64) {
        guard frames.count > 2, frames[2] != WorkerFrames.protocolId, frames[2].starts(with: Array("BATON-W/".utf8)) else { return }
        let got = String(decoding: frames[2].prefix(32), as: UTF8.self)
        let reason = "this broker speaks BATON-W/1; got \"\(got)\""
        if engine.workers[peer] != nil {
            // A registered worker switching versions is told so and forgotten, like a bad READY.
            engine.disconnectWorker(peer, code: .unsupportedVersion, reason: reason, now: now)
            return
        }
        send(workers, WorkerFrames.routed(to: peer.bytes, .init(.disconnect, DisconnectCode.unsupportedVersion.body(reason))), to: "worker")
    }

    /// Ends the engine's turn and hands its output on. A turn with nothing to write and
    /// nothing ahead of it in flight is carried out at once (a PING, a STATUS from
    /// memory, a key lookup): there is no commit for it to wait for.
    ///
    /// Under low load (`lowLoad`: this turn and the one before read few messages), with
    /// nothing in flight and nothing waiting on either socket, the turn is committed on
    /// this thread (`Committer.commitHere`) and carried out at once: handing it to the
    /// committer's thread and back costs two thread wake-ups, each tens of microseconds
    /// on a virtual machine whose other core sleeps, for no overlap (there is no next
    /// turn to decide meanwhile). Otherwise the committer's thread commits it while this
    /// one decides the next. Order holds either way: nothing is in flight ahead of it.
    func finishTurn(now: Int64, lowLoad: Bool = false) {
        let output = engine.finishTurn(now: now)
        log(output.notes)
        if inFlight == 0 && output.writes.isEmpty {
            carryOut(output, answers: [])
            answerAndSend(output.reads)
            answeredLookups += reads.lookUps(output)
            engine.turnCommitted()
            return
        }
        inFlight += 1
        if inFlight == 1 && lowLoad && !inputWaiting, let done = committer.commitHere(output) {
            carryOut(done)
            reloadIfUnwound()
            return
        }
        committer.submit(output)
    }

    /// A turn is decided under low load when it and the turn before each read at most
    /// this many messages. Two turns, because a pipelining client's requests come in
    /// waves: a small turn right after a large one is the front of the next wave, and
    /// committing it here would hold the rest of the wave back until its fsync (one
    /// pipelined connection's SUBMIT/s measured ~8% lower with this turn alone counted).
    static let lowLoadMessages = 2

    /// Whether either socket holds a message not read yet (then the next turn is decided
    /// while the committer's thread commits this one).
    private var inputWaiting: Bool {
        ((try? clients.hasInput) ?? true) || ((try? workers.hasInput) ?? true)
    }

    /// Carries out what the committer has finished, in order; a failed commit starts
    /// the recovery.
    func takeCommitted() {
        for done in committer.takeDone() { carryOut(done) }
        reloadIfUnwound()
    }

    private func carryOut(_ done: Committer.Done) {
        inFlight -= 1
        if let failure = done.failure {
            commitFailed(done.output, failure)
        } else {
            carryOut(done.output, answers: done.answers)
            answeredLookups += done.lookups
            engine.turnCommitted()
        }
    }

    /// Waits until every turn in flight is back, and carries them out.
    func waitForCommits() {
        var poller = try? Poller([.fd(committer.readyFd)])
        while inFlight > 0 {
            _ = try? poller?.poll(timeoutMs: 100)
            takeCommitted()
        }
    }

    // MARK: Sending

    private func carryOut(_ output: TurnOutput, answers: [ClientReply]) {
        for r in output.replies { sendClient(r) }
        for r in answers { sendClient(r) }
        if !output.stats.isEmpty {
            let commits = committer.stats()
            for s in output.stats { sendClient(ClientReply(peer: s.peer, command: .ok, tag: s.tag, body: stats.reply(adding: s.fields, commits: commits))) }
        }
        for job in output.backups {
            log(.info, "backup to \(job.path) started")
            let refusal = backups.map { $0.start(job) }
                ?? ClientReply(peer: job.peer, command: .error, tag: job.tag, body: WireError(.unavailable, "this broker cannot write backups").body)
            if let refusal { sendClient(refusal) }
        }
        for s in output.workerSends where !sendWorker(s) {
            unreachableWorkers.insert(s.peer)
        }
    }

    /// Deferred reads answered one at a time, each sent before the next is read: a turn
    /// holds one answer at a time, however many were asked, and a connection over its
    /// cap costs no store read at all.
    /// The same read again in a row (a flood of one STATUS) reuses the last one's
    /// encoded reply with its own tag: no second store read, no second encoding.
    private func answerAndSend(_ reads: [DeferredRead]) {
        let memo = ReadSide.Memo()
        var last: (read: DeferredRead, frames: [[UInt8]])?
        for read in reads {
            let counter = queuedReplies.counter(for: read.peer)
            if overCap(counter, read.peer, "read not answered") { continue }
            var frames: [[UInt8]]
            if let last, last.read.sameAnswer(as: read) {
                frames = last.frames
            } else {
                last = nil
                let answer = self.reads.answer(read, memo: memo)
                stats.countReply(answer.command, answer.body)
                frames = ClientFrames.routedReply(to: read.peer.bytes, answer.command, tag: [], bodyBytes: answer.bodyBytes)
                last = (read, frames)
            }
            frames[0] = read.peer.bytes  // routing id, then delimiter, protocol, command, tag, body
            frames[4] = read.tag
            sendClient(read.peer, frames, counter)
        }
    }

    func sendClient(_ r: ClientReply) {
        stats.countReply(r.command, r.body)
        let counter = queuedReplies.counter(for: r.peer)
        if overCap(counter, r.peer, "\(r.command.rawValue) dropped") { return }
        sendClient(r.peer, ClientFrames.routedReply(to: r.peer.bytes, r.command, tag: r.tag, bodyBytes: r.bodyBytes), counter)
    }

    /// Replies to a connection over its queued-bytes cap are dropped before they are
    /// even encoded; each one sent is counted on the connection's `counter` until libzmq
    /// lets go of it (spec §3.4).
    private func sendClient(_ peer: PeerId, _ frames: [[UInt8]], _ counter: QueuedReplies.Counter) {
        let cost = QueuedReplies.cost(of: frames)
        counter.add(cost)
        do {
            if try clients.send(frames, dontWait: true, released: { counter.release(cost) }) { return }
            log(.warning, "client queue full; message dropped")
        } catch where error.isHostUnreachable {
            // A client that went away before its reply (Ctrl-C, a timeout and a fresh
            // socket): normal, and it can ask again.
            // frames: routing id, delimiter, protocol, command, tag, body.
            let command = frames.count > 3 ? String(decoding: frames[3], as: UTF8.self) : "?"
            log(.info, "a client went away before its \(command) reply; reply dropped")
        } catch {
            log(.warning, "client unreachable; message dropped (\(error))")
        }
    }

    /// Whether `peer` is over its cap of unread replies (spec §3.4): then what it sent or
    /// is sent is dropped, and `what` says which, in a (rate-limited) log line. `what` is
    /// made only then: interpolated for every reply, it was ~700 instructions each.
    private func droppedOverCap(_ peer: PeerId, _ what: @autoclosure () -> String) -> Bool {
        guard queuedReplies.isOverCap(peer) else { return false }
        return overCap(queuedReplies.counter(for: peer), peer, what())
    }

    /// `droppedOverCap` with the connection's counter in hand (a reply goes on to use it).
    private func overCap(_ counter: QueuedReplies.Counter, _ peer: PeerId, _ what: @autoclosure () -> String) -> Bool {
        guard counter.bytes >= queuedReplies.capPerPeer else { return false }
        let id = peer.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        log(.warning, "client \(id) has \(counter.bytes) bytes of replies unread (cap \(queuedReplies.capPerPeer)); \(what())")
        return true
    }

    /// A message to a worker. One to a connection that already left (its DISCONNECT
    /// came in the same turn as the READY this HEARTBEAT answers) cannot be delivered,
    /// and that is normal: not a warning, and not a lost worker.
    private func sendWorker(_ s: WorkerSend) -> Bool {
        let frames = s.routedFrames
        guard engine.workers[s.peer] == nil else { return send(workers, frames, to: "worker") }
        do {
            _ = try workers.send(frames, dontWait: true)
        } catch where error.isHostUnreachable {
            return true
        } catch {
            log(.warning, "worker unreachable; message dropped (\(error))")
        }
        return true
    }

    /// ROUTER sends never block the loop: an unknown peer (EHOSTUNREACH, with
    /// ROUTER_MANDATORY) or a full queue (EAGAIN) drops the message, loudly.
    @discardableResult
    private func send(_ socket: Socket, _ frames: [[UInt8]], to who: String) -> Bool {
        do {
            if try socket.send(frames, dontWait: true) { return true }
            log(.warning, "\(who) queue full; message dropped")
        } catch {
            log(.warning, "\(who) unreachable; message dropped (\(error))")
        }
        return false
    }

    private func log(_ notes: [LogNote]) {
        for n in notes { log(n.level, n.text, fields: n.fields) }
    }

    /// Every line the loop logs goes through here: cut and rate-limited (`LogThrottle`).
    /// `fields` become swift-log metadata (fields of their own in the JSON log format).
    func log(_ level: LogNote.Level, _ text: String, fields: [String: String] = [:]) {
        guard case .log(let line, let suppressed) = logThrottle.admit(text, isError: level == .error, now: .now) else { return }
        if suppressed > 0 { logger.warning("\(suppressed) log line(s) suppressed in the last second (more than \(logThrottle.maxPerSecond) a second)") }
        let metadata = fields.isEmpty ? nil : fields.mapValues { Logger.MetadataValue.string($0) }
        switch level {
        case .info: logger.info("\(line)", metadata: metadata)
        case .warning: logger.warning("\(line)", metadata: metadata)
        case .error: logger.error("\(line)", metadata: metadata)
        }
    }

    // MARK: Memory

    /// When the broker has gone idle (no workflow in memory, no turn in flight) after
    /// holding some, gives the freed heap back to the OS, at most once a second: RSS then
    /// follows what is held, not the largest burst so far.
    private func trimHeapIfIdle() {
        if engine.workflowsInMemory > 0 {
            heldWorkflows = true
            return
        }
        let now = ContinuousClock.now
        guard heldWorkflows, inFlight == 0, now - lastTrim >= .seconds(1) else { return }
        ProcessHeap.returnFreeMemory()
        heldWorkflows = false
        lastTrim = now
    }
}

extension DeferredRead {
    /// Whether `other` asks the same thing (for another peer or tag): same answer.
    func sameAnswer(as other: DeferredRead) -> Bool {
        switch (self, other) {
        case (.status(_, _, let a, let f, let o), .status(_, _, let b, let g, let p)): a == b && f == g && o == p
        case (.events(_, _, let a, let x, let o), .events(_, _, let b, let y, let p)): a == b && x == y && o == p
        case (.list(_, _, let p), .list(_, _, let q)): p == q
        default: false
        }
    }

    var peer: PeerId {
        switch self {
        case .status(let p, _, _, _, _), .events(let p, _, _, _, _), .list(let p, _, _): p
        }
    }

    var tag: [UInt8] {
        switch self {
        case .status(_, let t, _, _, _), .events(_, let t, _, _, _), .list(_, let t, _): t
        }
    }
}
