import BatonConfig
import BatonStore
import BatonWire
import DequeModule

/// Client commands: the handshake (SUBMIT, EXEC), STATUS, WATCH, CANCEL, LIST, PING.
extension Engine {
    /// Handles one decoded client request from `caller`. Replies go out after the
    /// turn's commit.
    ///
    /// A peer with a SUBMIT parked on a key read has this request queued behind it:
    /// one peer's requests are decided in the order it sent them.
    public mutating func handleClient(_ peer: PeerId, _ request: ClientFrames.Request, as caller: Caller = .plain,
                                      now: Int64) {
        if let refusal = admitClientRequest(peer) {
            replyError(peer, request.tag, refusal)
            return
        }
        if parked[peer] != nil {
            parked[peer]!.behind.append(request)
            return
        }
        decide(peer, request, caller, now: now)
    }

    /// The commands only admins may send (shared/design.md, "Who may do what").
    static let adminCommands: Set<ClientCommand> = [.stop, .resume, .limits, .stats, .backup]

    /// Decides one request; a keyed SUBMIT whose key is not in memory parks the peer.
    mutating func decide(_ peer: PeerId, _ request: ClientFrames.Request, _ caller: Caller, now: Int64) {
        let tag = request.tag
        if !caller.isAdmin && Self.adminCommands.contains(request.command) {
            replyError(peer, tag, WireError(.forbidden, "\(request.command.rawValue) is an admin command; key \"\(caller.name ?? "")\" is not an admin key"))
            return
        }
        do throws(WireError) {
            switch request.command {
            case .submit:
                try submit(peer, tag, request.submitRequest(), caller, lookedUp: nil, now: now)
            case .exec:
                exec(peer, request, try request.workflowRef().id, caller, now: now)
            case .status:
                status(peer, tag, try request.statusRequest(), caller, now: now)
            case .watch:
                watch(peer, tag, try WatchRequest(body: request.body), caller, now: now)
            case .cancel:
                cancel(peer, request, try request.workflowRef().id, caller, now: now)
            case .list:
                var query = try ListRequest(body: request.body)
                if !caller.isAdmin { query.owner = caller.name ?? "" }
                out.reads.append(.list(peer: peer, tag: tag, query: query))
            case .limits:
                reply(peer, .ok, tag, limitsReport(now: now))
            case .stats:
                out.stats.append(StatsRequest(peer: peer, tag: tag, fields: statsFields(now: now)))
            case .backup:
                out.backups.append(BackupJob(peer: peer, tag: tag, path: try BackupRequest(body: request.body).path))
            case .ping:
                reply(peer, .pong, tag, ["time": .string(Timestamp.format(ms: wall(now))), "max_message_bytes": .int(Int64(config.maxOutputBytes)),
                                         "features": .array(BrokerFeatures.all.map(JSONValue.string))])
            case .stop:
                stop(peer, tag, try StopRequest(body: request.body), now: now)
            case .resume:
                resume(peer, tag, try ResumeRequest(body: request.body))
            }
        } catch {
            replyError(peer, tag, error)
        }
    }

    // MARK: SUBMIT: store, reply ID, run nothing

    /// `lookedUp`: the store's answer for the key, when this SUBMIT was parked on it.
    mutating func submit(_ peer: PeerId, _ tag: [UInt8], _ request: SubmitRequest, _ caller: Caller,
                         lookedUp: WorkflowRecord??, now: Int64) throws(WireError) {
        if let refusal = stoppedRefusal(request.workflow.name) { throw refusal }
        try checkPolicies(request.workflow, .submit, owner: caller.name, now: now)
        if let key = request.idempotencyKey {
            // Memory first: it holds every unfinished workflow, and finished ones until
            // their turn is committed, so it is never behind the store.
            if let id = keys[key], let existing = workflows[id] {
                try replyDuplicate(peer, tag, request, caller, existing)
                return
            }
            let stored: WorkflowRecord?
            if let lookedUp {
                stored = lookedUp
            } else if storedKeys?.mayContain(key) == false {
                stored = nil  // certainly never stored: no read needed (the common case)
            } else {
                park(peer, tag, request, caller, key: key)
                return
            }
            if let stored {
                try replyDuplicate(peer, tag, request, caller, stored)
                return
            }
        }
        if let refusal = submittedQuotaRefusal(caller.name) { throw refusal }
        let id = ULID.make(ms: wall(now), using: &random)
        countSubmitted(caller.name, +1)
        counters.submitted += 1
        // Its first event, `workflow.submitted` (seq 1, spec §7), is in no batch: the
        // store makes it from the inserted row when read (`WriteBatch.events`), so the
        // event is counted here and nothing else is written for it.
        let record = WorkflowRecord(id: id, spec: request.workflow, idempotencyKey: request.idempotencyKey,
                                    owner: caller.name, submittedAt: wall(now), expiresAt: wall(now) + config.ttlMs,
                                    lastEvent: 1)
        workflows[id] = record
        if policies != .allowAll { _ = passedSpecRules.insert(id) }  // checked above
        if let key = request.idempotencyKey {
            keys[key] = id
            storedKeys?.insert(key)
        }
        insertedIds.append(id)
        insertedSet.insert(id)
        if config.notesInfo {
            note("workflow \(id) submitted: \"\(record.spec.name)\", \(record.spec.jobCount) job(s), by \(Self.who(caller.name))", fields: ["workflow_id": id])
        }
        timers.insert(.expire(id), at: now + config.ttlMs)
        reply(peer, .id, tag, .id(IdReply(id: id, state: .submitted, duplicate: false)))
    }

    /// Puts `new` in force for every later SUBMIT and EXEC.
    public mutating func usePolicies(_ new: PolicySet) {
        policies = new
        policiesCovering = [:]
        passedSpecRules = WorkflowIdSet()
    }

    /// `policy_denied` when the policies refuse `spec` in `phase` (SUBMIT checks every
    /// rule but time windows; EXEC checks them all, since the config may have changed).
    /// `timeRulesOnly`: the spec passed every other rule of the policies in force at its
    /// SUBMIT (`passedSpecRules`), so only the time-dependent ones can refuse it now;
    /// the verdict is the full check's (the first failing rule in file order).
    mutating func checkPolicies(_ spec: WorkflowSpec, _ phase: PolicyPhase, owner: String?, now: Int64,
                                timeRulesOnly: Bool = false) throws(WireError) {
        guard policies != .allowAll else { return }
        let covering: [Int]
        if let known = policiesCovering[spec.name] {
            covering = known
        } else {
            covering = policies.covering(spec.name)
            if policiesCovering.count >= 4096 { policiesCovering = [:] }
            policiesCovering[spec.name] = covering
        }
        guard case .denied(let denial) = policies.check(spec, owner: owner, at: wall(now), phase: phase, covering: covering,
                                                               timeRulesOnly: timeRulesOnly) else { return }
        var details: [String: JSONValue] = ["rule": .string(denial.rule?.rawValue ?? "default")]
        if let policy = denial.policy { details["policy"] = .string(policy) }
        throw WireError(.policyDenied, denial.description, details: details)
    }

    /// Gives the engine the keys the store holds (at start, before the first request):
    /// from then on a SUBMIT whose key is certainly new is decided without a store read.
    /// Without it every key not in memory is read (correct, slower).
    public mutating func knowStoredKeys(_ filter: KeyFilter) {
        storedKeys = filter
    }

    private mutating func replyDuplicate(_ peer: PeerId, _ tag: [UInt8], _ request: SubmitRequest, _ caller: Caller,
                                         _ existing: WorkflowRecord) throws(WireError) {
        // Keys are global (spec §11): another owner's key is a conflict, and its
        // workflow's id is not told.
        guard caller.mayAccess(owner: existing.owner) else {
            throw WireError(.conflict, "idempotency_key \"\(request.idempotencyKey ?? "")\" is used by another owner's workflow")
        }
        guard existing.spec == request.workflow else {
            throw WireError(.conflict, "idempotency_key \"\(request.idempotencyKey ?? "")\" was used for workflow \(existing.id) with a different spec")
        }
        reply(peer, .id, tag, .id(IdReply(id: existing.id, state: existing.state, duplicate: true)))
    }

    /// Parks the peer until the store says whether `key` is taken. One read per key:
    /// a second peer with the same key waits for the same answer (and then finds the
    /// first peer's new workflow in memory).
    private mutating func park(_ peer: PeerId, _ tag: [UInt8], _ request: SubmitRequest, _ caller: Caller, key: String) {
        parked[peer] = ParkedPeer(tag: tag, submit: request, caller: caller)
        if keyReads[key] == nil { out.keyLookups.append(key) }
        keyReads[key, default: []].append(peer)
    }

    /// The store's answers to the key reads of earlier turns: each parked SUBMIT is
    /// decided with its answer, then what its peer sent after it, in order (one of those
    /// may park the peer again).
    public mutating func keysLookedUp(_ answers: [KeyLookup], now: Int64) {
        for answer in answers {
            if answer.isWorkflowLoad {
                workflowLoaded(answer, now: now)
                continue
            }
            for peer in keyReads.removeValue(forKey: answer.key) ?? [] {
                guard var p = parked.removeValue(forKey: peer), let parkedSubmit = p.submit else { continue }
                do throws(WireError) {
                    try submit(peer, p.tag, parkedSubmit, p.caller, lookedUp: try answer.found.get(), now: now)
                } catch {
                    replyError(peer, p.tag, error)
                }
                decideInOrder(peer, &p.behind, p.caller, now: now)
            }
        }
    }

    /// Decides `rest` in order until one of them parks the peer again; what is left
    /// then waits behind that one. (`inout`: popping a uniquely held queue copies nothing.)
    private mutating func decideInOrder(_ peer: PeerId, _ rest: inout Deque<ClientFrames.Request>, _ caller: Caller,
                                        now: Int64) {
        while let next = rest.popFirst() {
            decide(peer, next, caller, now: now)
            if parked[peer] != nil {
                parked[peer]!.behind.append(contentsOf: rest)
                return
            }
        }
    }

    /// Every parked request, removed (the peer, and the tag to answer with). The server
    /// answers them ERROR unavailable when a failed commit makes it rebuild memory:
    /// their key reads were lost with the turns in flight.
    public mutating func takeParkedRequests() -> [(peer: PeerId, tag: [UInt8])] {
        var taken: [(peer: PeerId, tag: [UInt8])] = []
        for (peer, p) in parked {
            taken.append((peer, p.tag))
            taken += p.behind.map { (peer, $0.tag) }
        }
        parked = [:]
        keyReads = [:]
        loadReads = [:]
        return taken
    }

    // MARK: EXEC: start a SUBMITTED workflow; idempotent otherwise

    mutating func exec(_ peer: PeerId, _ request: ClientFrames.Request, _ id: String, _ caller: Caller, now: Int64) {
        let tag = request.tag
        guard let state = changeableState(peer, request, id, caller) else { return }
        switch state {
        case .submitted:
            let (spec, owner) = workflows.peek(id) { ($0.spec, $0.owner) }!
            do throws(WireError) {
                if let refusal = stoppedRefusal(spec.name) { throw refusal }
                let specRulesPassed = !passedSpecRules.isEmpty && passedSpecRules.remove(id)
                try checkPolicies(spec, .exec, owner: owner, now: now, timeRulesOnly: specRulesPassed)
                if let refusal = startRefusal(spec.name, now: now) { throw refusal }
            } catch {
                replyError(peer, tag, error)
                return
            }
            if config.notesInfo {
                note("workflow \(id) executed: \"\(spec.name)\", by \(Self.who(caller.name))", fields: ["workflow_id": id])
            }
            start(id, now: now)
        case .stopped:
            // Continues where the stop left it; it was admitted when it first started,
            // so only the stop itself and `max_running` apply again.
            let name = workflows[id]!.spec.name
            if let refusal = stoppedRefusal(name) ?? runningRefusal(name) {
                replyError(peer, tag, refusal)
                return
            }
            note("workflow \(id) continued after a stop: \"\(name)\", by \(Self.who(caller.name))", fields: ["workflow_id": id])
            continueStopped(id, now: now)
        case .running, .succeeded, .failed, .cancelled, .expired:
            break  // already started, or over: EXEC starts nothing and reports
        }
        replyStatus(peer, tag, of: id, now: now)
    }

    mutating func start(_ id: String, now: Int64) {
        let wallNow = wall(now)
        // One update reads what the start needs and takes its event's number (the
        // owner was read by copying the whole record before).
        guard let (name, owner, seq) = updateWorkflow(id, { w -> (String, String?, Int64) in
            w.state = .running
            w.startedAt = wallNow
            w.expiresAt = nil
            return (w.spec.name, w.owner, w.takeEventSeq())
        }) else {
            invariantBroken("start: workflow \(id) is not in memory")  // EXEC found it
            return
        }
        countSubmitted(owner, -1)
        counters.executed += 1
        if !limits.workflows.isEmpty { countStart(name, now: now) }
        markDirty(id)
        emit(id, .workflowRunning, seq: seq, at: now)
        startBlock(id, 0, now: now)
    }

    // MARK: STATUS

    mutating func status(_ peer: PeerId, _ tag: [UInt8], _ request: StatusRequest, _ caller: Caller, now: Int64) {
        guard let w = workflows[request.id] else {
            out.reads.append(.status(peer: peer, tag: tag, id: request.id, jobsFrom: request.jobsFrom, owner: caller.readFilter))
            return
        }
        guard accessible(peer, tag, w, caller) != nil else { return }
        replyStatus(peer, tag, of: w.id, jobsFrom: request.jobsFrom, now: now)
    }

    /// The state of workflow `id` when it is in memory and `caller` may see it. Else
    /// the request is answered here: not_found for another owner's workflow (the same
    /// answer as for no workflow, so ids do not leak), or a STATUS read from the store
    /// (filtered by owner) when memory does not hold it; nil then.
    private mutating func accessibleState(_ peer: PeerId, _ tag: [UInt8], _ id: String, _ caller: Caller) -> WorkflowState? {
        guard let (owner, state) = workflows.peek(id, { ($0.owner, $0.state) }) else {
            out.reads.append(.status(peer: peer, tag: tag, id: id, owner: caller.readFilter))
            return nil
        }
        return accessible(peer, tag, id, owner: owner, state: state, caller)
    }

    /// `accessibleState` for a request that changes the workflow (EXEC, CANCEL): a
    /// dormant one is loaded first, with the peer parked until it is in memory.
    private mutating func changeableState(_ peer: PeerId, _ request: ClientFrames.Request, _ id: String,
                                          _ caller: Caller) -> WorkflowState? {
        if !workflows.contains(id), let d = dormant[id] {
            guard caller.mayAccess(owner: d.owner) else {
                replyError(peer, request.tag, Self.notFound(id))
                return nil
            }
            parked[peer] = ParkedPeer(tag: request.tag, submit: nil, request: request, caller: caller)
            requestLoad(id, for: peer)
            return nil
        }
        return accessibleState(peer, request.tag, id, caller)
    }

    /// Asks the store for dormant workflow `id` (once, whoever else waits for it).
    mutating func requestLoad(_ id: String, for peer: PeerId? = nil) {
        if loadReads[id] == nil { out.workflowLoads.append(id) }
        loadReads[id, default: []].append(contentsOf: peer.map { [$0] } ?? [])
    }

    /// The store's answer for a dormant workflow: it joins memory (still SUBMITTED, with
    /// its expiry timer), then the requests parked on it are decided again, in order.
    private mutating func workflowLoaded(_ answer: KeyLookup, now: Int64) {
        let id = answer.key
        let peers = loadReads.removeValue(forKey: id) ?? []
        if case .success(let record?) = answer.found, record.state == .submitted, dormant.removeValue(forKey: id) != nil {
            workflows[id] = record
            if let key = record.idempotencyKey { keys[key] = id }
            timers.insert(.expire(id), at: record.expiresAt.map(steady(fromWall:)) ?? now)
        } else if case .success = answer.found {
            // Not SUBMITTED in the store any more (or gone): memory was stale.
            if dormant.removeValue(forKey: id) != nil {
                invariantBroken("dormant workflow \(id) is not SUBMITTED in the store")
            }
        } else if dormant[id] != nil {
            // The read failed: its expiry (whose timer fired, if that asked) tries again.
            timers.insert(.expire(id), at: now + 1000)
        }
        for peer in peers {
            guard var p = parked.removeValue(forKey: peer) else { continue }
            if case .failure(let error) = answer.found {
                replyError(peer, p.tag, error)
            } else if let request = p.request {
                decide(peer, request, p.caller, now: now)
            }
            if parked[peer] != nil {
                parked[peer]!.behind.append(contentsOf: p.behind)
            } else {
                decideInOrder(peer, &p.behind, p.caller, now: now)
            }
        }
    }

    private mutating func accessible(_ peer: PeerId, _ tag: [UInt8], _ w: WorkflowRecord, _ caller: Caller) -> WorkflowState? {
        accessible(peer, tag, w.id, owner: w.owner, state: w.state, caller)
    }

    /// `accessible` from the fields it reads (`accessibleState` peeks them in place).
    private mutating func accessible(_ peer: PeerId, _ tag: [UInt8], _ id: String, owner: String?, state: WorkflowState,
                                     _ caller: Caller) -> WorkflowState? {
        guard caller.mayAccess(owner: owner) else {
            replyError(peer, tag, Self.notFound(id))
            return nil
        }
        return state
    }

    /// The caller or owner as the audit lines name it.
    static func who(_ name: String?) -> String { name.map { "key \($0)" } ?? "a plain-mode client" }

    static func notFound(_ id: String) -> WireError { WireError(.notFound, "no workflow with id \"\(id)\"") }

    /// STATUS of a workflow in memory: the stored picture, plus `waiting_for` on each
    /// PENDING job of the current block that something other than the block's
    /// concurrency holds back, so nobody has to wonder why nothing runs. One page of it
    /// (spec §4.3.3): EXEC and CANCEL reply with the first.
    ///
    /// The holds are read in a statement of their own and the page written by a static
    /// function: with `reply(..., statusBody(w, now: now))` (a method of the engine
    /// evaluated inside a mutating method's call), the optimizer copied the whole engine
    /// around it (~3,200 instructions per EXEC in `scripts/profile`) to read four fields.
    /// STATUS of the workflow in memory with this id, its page written from the record
    /// in place (`peek`), not from a copy of it (every field retained, then released:
    /// ~500 instructions an EXEC).
    mutating func replyStatus(_ peer: PeerId, _ tag: [UInt8], of id: String, jobsFrom: Int = 0, now: Int64) {
        let holds = jobHolds(now: now)
        guard let body = workflows.peek(id, { Self.statusBody($0, holds: holds, jobsFrom: jobsFrom) }) else {
            invariantBroken("STATUS of workflow \(id), which is not in memory")
            return replyError(peer, tag, Self.notFound(id))
        }
        reply(peer, .status, tag, body)
    }

    static func statusBody(_ w: WorkflowRecord, holds: JobHolds, jobsFrom: Int) -> ClientReply.Payload {
        // Written from the record, the page's jobs only (no whole `WorkflowStatus`); the
        // current block's PENDING jobs say what holds them, its RUNNING ones their progress.
        // The closure captures `holds`, not the engine (see `JobHolds`).
        var typeWaits = JobHolds.TypeWaitCache()
        return .encoded(w.statusPageBytes(from: jobsFrom) { b, j, state, job in
            guard w.state == .running, b == w.currentBlock else { return }
            switch state {
            case .pending:
                job.waitingFor = holds.waitingFor(w, block: b, job: j, cache: &typeWaits)
            case .running:
                if let seen = holds.progress(JobKey(workflowId: w.id, block: b, job: j)) {
                    job.progress = seen.details
                    job.progressAt = seen.at
                }
            default:
                break
            }
        })
    }

    /// What a STATUS page reads of the engine to say what holds a job back.
    func jobHolds(now: Int64) -> JobHolds {
        JobHolds(queued: queued, workers: workers, buckets: buckets, progressSeen: progressSeen,
                 now: now, wallOffsetMs: wallOffsetMs)
    }

    // MARK: WATCH: event pages, long-polled

    mutating func watch(_ peer: PeerId, _ tag: [UInt8], _ request: WatchRequest, _ caller: Caller, now: Int64) {
        let id = request.id
        if let w = workflows[id], !caller.mayAccess(owner: w.owner) {
            replyError(peer, tag, Self.notFound(id))
            return
        }
        if let w = workflows[id], w.lastEvent <= request.after, request.waitMs > 0, !w.state.isFinal,
           parkedWatches[peer, default: 0] < config.maxParkedWatchesPerPeer {
            parkedWatches[peer, default: 0] += 1
            nextWatcherToken += 1
            let token = nextWatcherToken
            watchers[id, default: []].append(Watcher(token: token, peer: peer, tag: tag, after: request.after))
            timers.insert(.watch(workflowId: id, token: token), at: now + request.waitMs)
            return
        }
        out.reads.append(.events(peer: peer, tag: tag, id: id, after: request.after, owner: caller.readFilter))
    }

    // MARK: CANCEL

    mutating func cancel(_ peer: PeerId, _ request: ClientFrames.Request, _ id: String, _ caller: Caller, now: Int64) {
        let tag = request.tag
        guard let state = changeableState(peer, request, id, caller) else { return }
        switch state {
        case .submitted, .running, .stopped:
            finish(id, .cancelled(reason: "cancelled by client"), now: now)
        case .succeeded, .failed, .cancelled, .expired:
            break  // over already: CANCEL changes nothing and reports
        }
        replyStatus(peer, tag, of: id, now: now)
    }
}
