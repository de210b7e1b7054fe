import BatonStore
import BatonWire

/// Client commands: the handshake (SUBMIT, EXEC), STATUS, WATCH, CANCEL, LIST, PING.
extension Engine {
    /// Handles one decoded client request. Replies go out after the turn's commit.
    public mutating func handleClient(_ peer: PeerId, _ request: ClientFrames.Request, now: Int64) {
        let tag = request.tag
        do throws(WireError) {
            switch request.command {
            case .submit:
                try submit(peer, tag, SubmitRequest(body: request.body), now: now)
            case .exec:
                exec(peer, tag, try WorkflowRef(body: request.body).id, now: now)
            case .status:
                status(peer, tag, try WorkflowRef(body: request.body).id)
            case .watch:
                watch(peer, tag, try WatchRequest(body: request.body), now: now)
            case .cancel:
                cancel(peer, tag, try WorkflowRef(body: request.body).id, now: now)
            case .list:
                out.reads.append(.list(peer: peer, tag: tag, query: try ListRequest(body: request.body)))
            case .ping:
                reply(peer, .pong, tag, ["time": .string(Timestamp.format(ms: now))])
            case .stop, .resume:
                throw WireError(.unavailable, "\(request.command.rawValue) belongs to the emergency stop, which this broker does not have yet")
            }
        } catch {
            replyError(peer, tag, error)
        }
    }

    // MARK: SUBMIT: store, reply ID, run nothing

    mutating func submit(_ peer: PeerId, _ tag: [UInt8], _ request: SubmitRequest, now: Int64) throws(WireError) {
        if let key = request.idempotencyKey, let existing = try existingWorkflow(forKey: key) {
            guard existing.spec == request.workflow else {
                throw WireError(.conflict, "idempotency_key \"\(key)\" was used for workflow \(existing.id) with a different spec")
            }
            reply(peer, .id, tag, ["id": .string(existing.id), "state": .string(existing.state.rawValue), "duplicate": true])
            return
        }
        let id = ULID.make(ms: now, using: &random)
        let record = WorkflowRecord(id: id, spec: request.workflow, idempotencyKey: request.idempotencyKey,
                                    submittedAt: now, expiresAt: now + config.ttlMs)
        workflows[id] = record
        if let key = request.idempotencyKey { keys[key] = id }
        insertedIds.append(id)
        insertedSet.insert(id)
        emit(id, .workflowSubmitted, at: now, ["name": .string(record.spec.name)])
        timers.insert(.expire(id), at: now + config.ttlMs)
        reply(peer, .id, tag, ["id": .string(id), "state": .string(WorkflowState.submitted.rawValue), "duplicate": false])
    }

    /// The workflow already stored under `key`: memory first (it may not be committed
    /// yet), then the store.
    mutating func existingWorkflow(forKey key: String) throws(WireError) -> WorkflowRecord? {
        if let id = keys[key], let w = workflows[id] { return w }
        do {
            return try lookupKey(key)
        } catch {
            throw WireError(.unavailable, "cannot read the store: \(error)")
        }
    }

    // MARK: EXEC: start a SUBMITTED workflow; idempotent otherwise

    mutating func exec(_ peer: PeerId, _ tag: [UInt8], _ id: String, now: Int64) {
        guard workflows[id] != nil else {
            out.reads.append(.status(peer: peer, tag: tag, id: id))
            return
        }
        if workflows[id]!.state == .submitted { start(id, now: now) }
        reply(peer, .status, tag, workflows[id]!.status.json)
    }

    mutating func start(_ id: String, now: Int64) {
        workflows[id]!.state = .running
        workflows[id]!.startedAt = now
        workflows[id]!.expiresAt = nil
        emit(id, .workflowRunning, at: now)
        startBlock(id, 0, now: now)
    }

    // MARK: STATUS

    mutating func status(_ peer: PeerId, _ tag: [UInt8], _ id: String) {
        if let w = workflows[id] {
            reply(peer, .status, tag, w.status.json)
        } else {
            out.reads.append(.status(peer: peer, tag: tag, id: id))
        }
    }

    // MARK: WATCH: event pages, long-polled

    mutating func watch(_ peer: PeerId, _ tag: [UInt8], _ request: WatchRequest, now: Int64) {
        let id = request.id
        if let w = workflows[id], w.lastEvent <= request.after, request.waitMs > 0, !w.state.isFinal {
            nextWatcherToken += 1
            let token = nextWatcherToken
            watchers[id, default: []].append(Watcher(token: token, peer: peer, tag: tag, after: request.after))
            timers.insert(.watch(workflowId: id, token: token), at: now + request.waitMs)
            return
        }
        out.reads.append(.events(peer: peer, tag: tag, id: id, after: request.after))
    }

    // MARK: CANCEL

    mutating func cancel(_ peer: PeerId, _ tag: [UInt8], _ id: String, now: Int64) {
        guard let w = workflows[id] else {
            out.reads.append(.status(peer: peer, tag: tag, id: id))
            return
        }
        if !w.state.isFinal {
            finish(id, .cancelled, reason: "cancelled by client", now: now)
        }
        reply(peer, .status, tag, workflows[id]!.status.json)
    }
}
