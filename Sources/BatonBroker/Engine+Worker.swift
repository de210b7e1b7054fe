import BatonStore
import BatonWire

/// The worker endpoint: READY, HEARTBEAT, RESULT, DISCONNECT; liveness and loss.
extension Engine {
    /// `bodyBytes`: the size of the message's body frame (a RESULT over
    /// `maxOutputBytes` fails its attempt instead of storing the output).
    public mutating func handleWorker(_ peer: PeerId, _ message: WorkerFrames.Message, bodyBytes: Int = 0, now: Int64) {
        if message.command == .ready {
            ready(peer, message.body, now: now)
            return
        }
        // One lookup, then the state changed in place through its index: a test for nil
        // copied the worker's state out and looked again, and an optional chain
        // (`workers[peer]?.lastSeen = now`) moves the state out of the table and back.
        guard let i = workers.index(forKey: peer) else {
            // Normal after a broker restart: the worker's socket outlived our memory of it.
            send(peer, .disconnect, DisconnectCode.unknownWorker.body("unknown worker; reconnect and send READY"))
            return
        }
        workers.values[i].lastSeen = now
        switch message.command {
        case .heartbeat, .ready:
            break
        case .result:
            do {
                var result = try message.resultBody()
                if bodyBytes > config.maxOutputBytes {
                    result = ResultBody(jobId: result.jobId, attempt: result.attempt, ok: false,
                                        error: "output too large: a RESULT of \(bodyBytes) bytes is over max_output_bytes (\(config.maxOutputBytes))",
                                        retryable: false)
                }
                applyResult(result, from: peer, now: now)
            } catch {
                malformedResult(message.body, error, from: peer, now: now)
            }
        case .progress:
            do {
                applyProgress(try ProgressBody(body: message.body), from: peer, now: now)
            } catch {
                note("dropped malformed PROGRESS from worker \(workers[peer]!.name): \(error.message)", .warning)
            }
        case .disconnect:
            loseWorker(peer, because: Self.disconnectedCleanly, now: now)
        case .job, .cancel:
            note("worker \(workers[peer]!.name) sent \(message.command.rawValue), which only the broker sends; ignored", .warning)
        }
    }

    /// A RESULT that names its attempt but is otherwise broken ends that attempt as a
    /// failure: leaving it RUNNING would hang a job without a timeout forever.
    static let disconnectedCleanly = "worker disconnected"

    mutating func malformedResult(_ body: [String: JSONValue], _ error: WireError, from peer: PeerId, now: Int64) {
        let name = workers[peer]?.name ?? "?"
        guard let jobId = body["job_id"]?.stringValue, let attempt = body["attempt"]?.intValue else {
            note("dropped malformed RESULT from worker \(name): \(error.message)", .warning)
            return
        }
        note("malformed RESULT from worker \(name) for \(jobId) attempt \(attempt): \(error.message); counted as a failed attempt", .warning)
        applyResult(ResultBody(jobId: jobId, attempt: Int(attempt), ok: false, error: "malformed RESULT: \(error.message)"),
                    from: peer, now: now)
    }

    /// The server could not hand a message to this worker (gone, or its queue full): a
    /// JOB that never arrived would stay RUNNING, so the worker is treated as lost.
    public mutating func workerUnreachable(_ peer: PeerId, now: Int64) {
        loseWorker(peer, because: "a message to it could not be delivered", now: now)
    }

    mutating func ready(_ peer: PeerId, _ body: [String: JSONValue], now: Int64) {
        let r: ReadyBody
        do {
            r = try ReadyBody(body: body)
        } catch {
            // A registered worker told DISCONNECT reconnects (spec §9.4): forget it now,
            // so its attempts are retried at once instead of after the liveness timeout.
            if workers[peer] != nil { loseWorker(peer, because: "bad READY: \(error.message)", now: now) }
            send(peer, .disconnect, DisconnectCode.badReady.body("bad READY: \(error.message)"))
            return
        }
        if let before = workers[peer] {
            workers[peer]!.name = r.worker
            workers[peer]!.types = Set(r.types)
            workers[peer]!.capacity = r.capacity
            workers[peer]!.lastSeen = now
            // Capacity 0 is a drain (spec §9): no new JOB; its running ones may finish.
            if r.capacity == 0 && before.capacity > 0 {
                note("worker \(r.worker) draining: no new jobs; \(before.running.count) running job(s) may finish", fields: ["worker": r.worker])
            } else if r.capacity > 0 && before.capacity == 0 {
                note("worker \(r.worker) ready again: capacity \(r.capacity)", fields: ["worker": r.worker])
            }
        } else {
            nextWorkerOrder += 1
            workers[peer] = WorkerState(name: r.worker, types: Set(r.types), capacity: r.capacity, lastSeen: now, connectedAt: now,
                                         order: nextWorkerOrder)
            note("worker \(r.worker) joined: types \(r.types.joined(separator: ",")), capacity \(r.capacity)\(r.capacity == 0 ? " (draining)" : "")", fields: ["worker": r.worker])
        }
        if r.capacity > 0 { unservedTypesLogged.subtract(r.types) }
        send(peer, .heartbeat, ["interval_ms": .int(config.heartbeatMs), "max_output_bytes": .int(Int64(config.maxOutputBytes)),
                                "features": .array(BrokerFeatures.all.map(JSONValue.string))])
    }

    /// A worker is gone (silent, or said DISCONNECT): each attempt it held ends, counts
    /// toward its job's `max_attempts`, and the job goes back to the queue if allowed.
    mutating func loseWorker(_ peer: PeerId, because why: String, now: Int64) {
        guard let w = workers.removeValue(forKey: peer) else { return }
        // A worker that said DISCONNECT left cleanly (an info line); one that went silent
        // or could not be reached was lost (a warning).
        let clean = why == Self.disconnectedCleanly
        if !clean { counters.workersLost += 1 }
        note("worker \(w.name) \(clean ? "left" : "lost") (\(why)); \(w.running.count) running job(s) go back to the queue",
             clean && w.running.isEmpty ? .info : .warning, fields: ["worker": w.name])
        for k in w.running.sorted(by: { $0.jobId < $1.jobId }) {
            endAttempt(k)
            attemptFailed(k, error: "worker lost", retryable: true, now: now)
        }
    }

    /// Stops serving one worker connection: its attempts end as lost (and are retried
    /// elsewhere), and it is told DISCONNECT. A reload that removed its key does this.
    public mutating func disconnectWorker(_ peer: PeerId, code: DisconnectCode, reason: String, now: Int64) {
        loseWorker(peer, because: reason, now: now)
        send(peer, .disconnect, code.body(reason))
    }

    /// DISCONNECT to every worker, for a graceful shutdown.
    public mutating func disconnectAllWorkers(reason: String) {
        for peer in workers.keys { send(peer, .disconnect, DisconnectCode.shuttingDown.body(reason)) }
    }
}
