/// Specs read straight from their bytes into `WorkflowSpec` (and a SUBMIT body into
/// `SubmitRequest`), without the `[String: JSONValue]` tree of every object first.
///
/// Why: the tree cost a dictionary per job object (its keys hashed, then looked up again
/// by the field readers), about 16k instructions per job of every spec read: once at
/// SUBMIT and once more whenever a finished workflow is read back for STATUS.
///
/// The contract that keeps this safe: the typed reader accepts only what the tree path
/// accepts, and returns exactly the spec the tree path returns. It gives up (nil) on
/// anything else — malformed JSON, an unknown or repeated key, a value of the wrong type
/// or out of range, a number that is not a plain integer, a key with escapes — and the
/// caller then takes the tree path, which words the error. So every error message stays
/// the tree path's, and the reader needs to be right only about valid specs.
/// `JSONParserSpecTests` checks both halves against the tree path.
extension JSONParser {
    /// The spec in `raw`, which holds a spec object and nothing else (the store's `spec`
    /// column), or nil when the tree path must decide.
    static func plainSpec(_ raw: UnsafeRawBufferPointer) -> WorkflowSpec? {
        var p = JSONParser(raw.assumingMemoryBound(to: UInt8.self))
        p.skipSpace()
        // At depth 1, as `parse` reads a top-level object.
        guard let spec = p.plainWorkflow(depth: 1) else { return nil }
        p.skipSpace()
        return p.i == p.b.count ? spec : nil
    }

    /// A SUBMIT body with only the members this broker reads (`workflow`,
    /// `idempotency_key`), or nil when the tree path must decide (an unknown member,
    /// which the envelope ignores, included).
    static func plainSubmit(_ body: [UInt8]) -> SubmitRequest? {
        body.withUnsafeBufferPointer { buffer in
            var p = JSONParser(buffer)
            p.skipSpace()
            var workflow: WorkflowSpec?, key: String?, seen: UInt8 = 0
            let read = p.plainMembers(depth: 1) { p, name in
                if matches(name, "workflow") {
                    guard once(&seen, 1), let w = p.plainWorkflow(depth: 2) else { return false }
                    workflow = w
                } else if matches(name, "idempotency_key") {
                    guard once(&seen, 2), let v = p.plainString(maxBytes: SubmitRequest.maxKeyBytes) else { return false }
                    if case .value(let s) = v {
                        guard !s.isEmpty else { return false }
                        key = s
                    }
                } else {
                    return false
                }
                return true
            }
            p.skipSpace()
            guard read, p.i == p.b.count, let workflow else { return nil }
            return SubmitRequest(workflow: workflow, idempotencyKey: key)
        }
    }

    // MARK: The spec's objects
    //
    // Depths follow `value(depth:)`: an object or array at depth d holds values read at
    // depth d (objects inside are d + 1), so `args` deep enough to be refused there is
    // refused here too.

    mutating func plainWorkflow(depth: Int) -> WorkflowSpec? {
        var name: String?, description: String?, blocks: [BlockSpec] = [], seen: UInt8 = 0
        let read = plainMembers(depth: depth) { p, key in
            if matches(key, "name") {
                guard once(&seen, 1), case .value(let s)? = p.plainString(maxBytes: WorkflowSpec.Limits.maxNameBytes),
                      !s.isEmpty else { return false }
                name = s
            } else if matches(key, "description") {
                guard once(&seen, 2), let v = p.plainString(maxBytes: 4096) else { return false }
                if case .value(let s) = v { description = s }
            } else if matches(key, "blocks") {
                guard once(&seen, 4) else { return false }
                var total = 0
                let all = p.plainArray(depth: depth + 1) { p in
                    guard blocks.count < WorkflowSpec.Limits.maxBlocks, let block = p.plainBlock(depth: depth + 2) else { return false }
                    total += block.jobs.count
                    blocks.append(block)
                    return total <= WorkflowSpec.Limits.maxJobs
                }
                guard all, !blocks.isEmpty else { return false }
            } else {
                return false
            }
            return true
        }
        guard read, let name, seen & 4 != 0 else { return nil }
        return WorkflowSpec(name: name, description: description, blocks: blocks)
    }

    mutating func plainBlock(depth: Int) -> BlockSpec? {
        var description: String?, concurrency = 1, jobs: [JobSpec] = [], seen: UInt8 = 0
        let read = plainMembers(depth: depth) { p, key in
            if matches(key, "description") {
                guard once(&seen, 1), let v = p.plainString(maxBytes: 4096) else { return false }
                if case .value(let s) = v { description = s }
            } else if matches(key, "concurrency") {
                guard once(&seen, 2), let v = p.plainInt(1...Int64(WorkflowSpec.Limits.maxConcurrency)) else { return false }
                if case .value(let n) = v { concurrency = Int(n) }
            } else if matches(key, "jobs") {
                guard once(&seen, 4) else { return false }
                let all = p.plainArray(depth: depth + 1) { p in
                    guard jobs.count < WorkflowSpec.Limits.maxJobs, let job = p.plainJob(depth: depth + 2) else { return false }
                    jobs.append(job)
                    return true
                }
                guard all, !jobs.isEmpty else { return false }
            } else {
                return false
            }
            return true
        }
        guard read, seen & 4 != 0 else { return nil }
        return BlockSpec(description: description, concurrency: concurrency, jobs: jobs)
    }

    mutating func plainJob(depth: Int) -> JobSpec? {
        var job = JobSpec(type: ""), seen: UInt8 = 0
        let read = plainMembers(depth: depth) { p, key in
            if matches(key, "type") {
                guard once(&seen, 1), case .value(let s)? = p.plainString(maxBytes: WorkflowSpec.Limits.maxTypeBytes),
                      !s.isEmpty, s.utf8.allSatisfy(isTypeByte) else { return false }
                job.type = s
            } else if matches(key, "name") {
                guard once(&seen, 2), let v = p.plainString(maxBytes: 4096) else { return false }
                if case .value(let s) = v { job.name = s }
            } else if matches(key, "args") {
                guard once(&seen, 4), p.i < p.b.count else { return false }
                if p.b[p.i] == UInt8(ascii: "n") { return (try? p.literal("null")) != nil }
                // An object (its first byte says so): kept as it came when it is the
                // writer's text, else any JSON inside, read at the depth the tree path uses.
                guard p.b[p.i] == UInt8(ascii: "{"), let text = p.text(depth: depth) else { return false }
                job.argsText = text
            } else if matches(key, "timeout_ms") {
                guard once(&seen, 8), let v = p.plainInt(0...WorkflowSpec.Limits.maxTimeoutMs) else { return false }
                if case .value(let n) = v { job.timeoutMs = n }
            } else if matches(key, "heartbeat_timeout_ms") {
                guard once(&seen, 16), let v = p.plainInt(0...WorkflowSpec.Limits.maxTimeoutMs) else { return false }
                if case .value(let n) = v { job.heartbeatTimeoutMs = n }
            } else if matches(key, "retry") {
                guard once(&seen, 32), p.i < p.b.count else { return false }
                if p.b[p.i] == UInt8(ascii: "n") { return (try? p.literal("null")) != nil }
                guard let r = p.plainRetry(depth: depth + 1) else { return false }
                job.retry = r
            } else {
                return false
            }
            return true
        }
        guard read, seen & 1 != 0 else { return nil }
        return job
    }

    mutating func plainRetry(depth: Int) -> RetryPolicy? {
        var retry = RetryPolicy.standard, seen: UInt8 = 0
        let read = plainMembers(depth: depth) { p, key in
            if matches(key, "max_attempts") {
                guard once(&seen, 1), let v = p.plainInt(1...Int64(WorkflowSpec.Limits.maxAttempts)) else { return false }
                if case .value(let n) = v { retry.maxAttempts = Int(n) }
            } else if matches(key, "backoff_ms") {
                guard once(&seen, 2), let v = p.plainInt(0...WorkflowSpec.Limits.maxBackoffMs) else { return false }
                if case .value(let n) = v { retry.backoffMs = n }
            } else {
                return false
            }
            return true
        }
        return read ? retry : nil
    }

    // MARK: Members, elements, values

    /// A member's value as the typed reader took it: a value, or JSON null (which the
    /// tree path's optional fields take as absent).
    enum Plain<T> {
        case value(T)
        case null
    }

    /// Reads an object at `depth`, handing each key (its bytes, escape-free) to `member`,
    /// which reads the value and returns false to give up. False on anything malformed.
    mutating func plainMembers(depth: Int, _ member: (inout JSONParser, UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        guard depth <= Self.maxDepth, i < b.count, b[i] == UInt8(ascii: "{") else { return false }
        i += 1
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return true }
        while true {
            skipSpace()
            guard let key = plainKey() else { return false }
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return false }
            i += 1
            skipSpace()
            guard member(&self, key) else { return false }
            skipSpace()
            guard i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return true }
            return false
        }
    }

    /// Reads an array at `depth`, `element` reading each element. False on anything malformed.
    mutating func plainArray(depth: Int, _ element: (inout JSONParser) -> Bool) -> Bool {
        guard depth <= Self.maxDepth, i < b.count, b[i] == UInt8(ascii: "[") else { return false }
        i += 1
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return true }
        while true {
            skipSpace()
            guard element(&self) else { return false }
            skipSpace()
            guard i < b.count else { return false }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return true }
            return false
        }
    }

    /// A key's bytes when it is a string without escapes or control characters (every
    /// key the spec knows); nil otherwise.
    mutating func plainKey() -> UnsafeBufferPointer<UInt8>? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        var k = start
        while k < b.count, b[k] != UInt8(ascii: "\"") {
            if b[k] == UInt8(ascii: "\\") || b[k] < 0x20 { return nil }
            k += 1
        }
        guard k < b.count else { return nil }
        i = k + 1
        return UnsafeBufferPointer(rebasing: b[start..<k])
    }

    /// A string (escapes decoded, UTF-8 checked) of at most `maxBytes`, or null; nil to give up.
    mutating func plainString(maxBytes: Int) -> Plain<String>? {
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "n") { return (try? literal("null")) != nil ? .null : nil }
        guard b[i] == UInt8(ascii: "\""), let s = try? string(), s.utf8.count <= maxBytes else { return nil }
        return .value(s)
    }

    /// An integer written as one (no fraction or exponent) within `range`, or null; nil to give up.
    mutating func plainInt(_ range: ClosedRange<Int64>) -> Plain<Int64>? {
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "n") { return (try? literal("null")) != nil ? .null : nil }
        guard b[i] == UInt8(ascii: "-") || (b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9")),
              case .int(let v)? = try? number(), range.contains(v) else { return nil }
        return .value(v)
    }
}

/// Whether `key` is exactly `name`'s bytes.
func matches(_ key: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
    guard key.count == name.utf8CodeUnitCount else { return false }
    for k in 0..<key.count where key[k] != name.utf8Start[k] { return false }
    return true
}

/// Marks member `bit` of an object as read; false when it was already (a repeated key,
/// which the tree path refuses).
func once(_ seen: inout UInt8, _ bit: UInt8) -> Bool {
    guard seen & bit == 0 else { return false }
    seen |= bit
    return true
}

extension JSONParser {
    /// An EXEC, CANCEL or STATUS body that holds the workflow's id and nothing else, as
    /// `WorkflowRef(body:)` would read it, or nil when the tree path must decide (any
    /// other member, which that path ignores or reads, included). Every EXEC comes this
    /// way: the tree's dictionary for one member cost ~3,400 instructions per EXEC in
    /// `scripts/profile`.
    static func plainRef(_ body: [UInt8]) -> WorkflowRef? {
        body.withUnsafeBufferPointer { buffer in
            var p = JSONParser(buffer)
            p.skipSpace()
            var id: String?
            let read = p.plainMembers(depth: 1) { p, name in
                guard matches(name, "id"), id == nil, case .value(let s)? = p.plainString(maxBytes: WorkflowRef.maxIdBytes),
                      !s.isEmpty else { return false }
                id = s
                return true
            }
            p.skipSpace()
            guard read, p.i == p.b.count, let id else { return nil }
            return WorkflowRef(id: id)
        }
    }
}
