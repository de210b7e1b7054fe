/// Frame layouts of the worker endpoint.
///
///     0: ""           empty delimiter
///     1: "BATON-W/1"  protocol id and version
///     2: command      READY | JOB | RESULT | HEARTBEAT | CANCEL | DISCONNECT
///     3: body         JSON object
public enum WorkerFrames {
    public static let protocolId: [UInt8] = Array("BATON-W/1".utf8)

    public struct Message: Equatable, Sendable {
        public var command: WorkerCommand
        public var body: [String: JSONValue]
        /// A RESULT body read straight into its typed value (`decode`'s `typedResult`);
        /// `body` is then empty. Nil when the body took the tree path.
        public var result: ResultBody?

        public init(_ command: WorkerCommand, _ body: [String: JSONValue] = [:], result: ResultBody? = nil) {
            self.command = command
            self.body = body
            self.result = result
        }

        /// The RESULT's typed body: read at decode when it was plainly valid, from the
        /// tree otherwise (which words any error).
        public func resultBody() throws(WireError) -> ResultBody {
            if let result { return result }
            return try ResultBody(body: body)
        }
    }

    /// Decodes the frames after the routing id (broker side) or the whole message
    /// (worker side: a DEALER receives the delimiter too). With `typedResult` (the
    /// broker), a plainly valid RESULT body is read straight into `Message.result`
    /// (JSONParser+Result.swift); any other takes the tree path, which words its error.
    public static func decode(_ frames: ArraySlice<[UInt8]>, typedResult: Bool = false) throws(WireError) -> Message {
        // Read in place (an `Array` of the slice retained and released every frame).
        let f = frames, at = frames.startIndex
        guard let first = f.first, first.isEmpty else {
            throw WireError(.badRequest, "frame 0 must be the empty delimiter")
        }
        guard f.count > 1, f[at + 1] == protocolId else {
            throw WireError(.unsupportedVersion, "frame 1 must be the worker protocol id \"BATON-W/1\"")
        }
        guard f.count == 4 else {
            throw WireError(.badRequest, "a worker message has 4 frames (delimiter, protocol, command, body); got \(f.count)")
        }
        guard let command = WorkerCommand(frame: f[at + 2]) else {
            throw WireError(.unknownCommand, "unknown worker command \"\(String(decoding: f[at + 2].prefix(32), as: UTF8.self))\"")
        }
        let body = f[at + 3]
        if typedResult, command == .result, let result = JSONParser.plainResult(body) {
            return Message(command, result: result)
        }
        return Message(command, try decodeBody(body))
    }

    public static func encode(_ message: Message) -> [[UInt8]] {
        encode(message.command, bodyBytes: JSONWriter.bytes(.object(message.body)))
    }

    /// `message` as a ROUTER sends it (see `routed(to:_:bodyBytes:)`).
    public static func routed(to peer: [UInt8], _ message: Message) -> [[UInt8]] {
        routed(to: peer, message.command, bodyBytes: JSONWriter.bytes(.object(message.body)))
    }

    /// A message whose body is already written.
    public static func encode(_ command: WorkerCommand, bodyBytes: [UInt8]) -> [[UInt8]] {
        [[], protocolId, command.frame, bodyBytes]
    }

    /// A message as a ROUTER sends it: `peer`'s routing id, then `encode`'s frames, in
    /// one array.
    public static func routed(to peer: [UInt8], _ command: WorkerCommand, bodyBytes: [UInt8]) -> [[UInt8]] {
        [peer, [], protocolId, command.frame, bodyBytes]
    }
}
