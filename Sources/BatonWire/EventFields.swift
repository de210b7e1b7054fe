/// An event's fields as the members of a JSON object, written to bytes as they are added:
/// what `JSONWriter.writeObject` would write for the same fields, without the braces.
///
/// Why not a `[String: JSONValue]`: the broker emits seven events per one-job workflow
/// and two per fan-out job, and building each as a dictionary (hashing every key on
/// insert and again when `JSONWriter` sorts them, allocating the storage) cost about
/// 4,000 instructions per event in the profile; the keys here are static strings.
///
/// Invariant: keys are added in ascending byte order, each at most once, and need no
/// escaping (checked in debug builds), so the bytes are the canonical form, sorted as
/// `JSONWriter` sorts, and read back (`WorkflowEvent(json:)`) as the same fields.
public struct EventFields: Sendable, Equatable {
    /// `"key":value` pairs separated by commas; empty for no fields.
    public private(set) var members: [UInt8] = []
    #if DEBUG
    private var lastKey: [UInt8] = []
    #endif

    public init() {}

    /// The fields of a dictionary, for tests and tools (any keys, in JSONWriter's order).
    public init(_ fields: [String: JSONValue]) {
        guard !fields.isEmpty else { return }
        JSONWriter.writeObject(fields, into: &members)
        members.removeFirst()
        members.removeLast()
    }

    public var isEmpty: Bool { members.isEmpty }

    public mutating func add(_ key: Key, _ value: Int64) {
        addKey(key)
        JSONWriter.writeInt(value, into: &members)
    }

    public mutating func add(_ key: Key, _ value: Int) {
        add(key, Int64(value))
    }

    public mutating func add(_ key: Key, _ value: String) {
        addKey(key)
        JSONWriter.writeString(value, into: &members)
    }

    /// A job's id, `<workflowId>.<block>.<job>`, as `add(key, jobId)` would add it
    /// (see `JSONWriter.writeJobId`).
    public mutating func add(_ key: Key, jobOf workflowId: String, block: Int, job: Int) {
        addKey(key)
        JSONWriter.writeJobId(workflowId, block: block, job: job, into: &members)
    }

    public mutating func add(_ key: Key, _ value: JSONValue) {
        addKey(key)
        JSONWriter.write(value, into: &members)
    }

    /// The whole object, braces included.
    public func write(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        out.append(contentsOf: members)
        out.append(UInt8(ascii: "}"))
    }

    /// The fields parsed back (tests, logs).
    public var object: [String: JSONValue] {
        var bytes: [UInt8] = []
        write(into: &bytes)
        guard case .object(let o)? = try? JSONParser.parse(bytes) else { return [:] }
        return o
    }

    public static func == (a: EventFields, b: EventFields) -> Bool { a.members == b.members }

    private mutating func addKey(_ key: Key) {
        key.prefix.withUTF8Buffer { p in
            #if DEBUG
            let k = UnsafeBufferPointer(rebasing: p[2..<(p.count - 2)])
            assert(lastKey.isEmpty || lastKey.lexicographicallyPrecedes(k),
                   "event field \(key.prefix) added after \(String(decoding: lastKey, as: UTF8.self)): keys go in ascending order")
            lastKey = Array(k)
            #endif
            // Room for a typical event's fields at once (a job event's are ~100 bytes):
            // grown from empty, the array reallocated three or four times per event.
            // The prefix is one literal, appended at once (the first member's without its
            // comma): made byte by byte around the key it was four appends, ~210
            // instructions a key, nine keys per fan-out job.
            if members.isEmpty {
                members.reserveCapacity(160)
                members.append(contentsOf: UnsafeBufferPointer(rebasing: p[1...]))
            } else {
                members.append(contentsOf: p)
            }
        }
    }

    /// An event field's key as it is written: its member prefix `,"key":`, whole, so
    /// that adding a field appends it at once. The broker's keys are the constants
    /// below; `init(member:)` makes others (tests).
    public struct Key: Sendable {
        let prefix: StaticString

        /// `prefix` is `,"key":` for a key of printable ASCII with no quote or
        /// backslash (checked in debug builds).
        public init(member prefix: StaticString) {
            #if DEBUG
            prefix.withUTF8Buffer { p in
                assert(p.count >= 5 && p[0] == UInt8(ascii: ",") && p[1] == UInt8(ascii: "\"")
                       && p[p.count - 2] == UInt8(ascii: "\"") && p[p.count - 1] == UInt8(ascii: ":"),
                       "an event field key is given as its member prefix, like #\",\"key\":\"#")
                assert(p[2..<(p.count - 2)].allSatisfy { $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") },
                       "event field key \(prefix) needs escaping")
            }
            #endif
            self.prefix = prefix
        }

        public static let attempt = Key(member: #","attempt":"#)
        public static let block = Key(member: #","block":"#)
        public static let details = Key(member: #","details":"#)
        public static let error = Key(member: #","error":"#)
        public static let job = Key(member: #","job":"#)
        public static let jobId = Key(member: #","job_id":"#)
        public static let reason = Key(member: #","reason":"#)
        public static let retryAt = Key(member: #","retry_at":"#)
        public static let worker = Key(member: #","worker":"#)
    }
}
