/// Frame layouts of the client endpoint.
///
///     0: ""         empty delimiter
///     1: "BATON/1"  protocol id and version
///     2: command
///     3: tag        0...64 opaque bytes, echoed in the reply
///     4: body       JSON object
public enum ClientFrames {
    public static let protocolId: [UInt8] = Array("BATON/1".utf8)
    public static let maxTagBytes = 64

    /// A decoded client request. `body` is a JSON object.
    public struct Request: Equatable, Sendable {
        public var command: ClientCommand
        public var tag: [UInt8]
        public var body: [String: JSONValue]
        /// A SUBMIT body read straight into its typed value (`decodeRequest`'s
        /// `typedBodies`); `body` is then empty. Nil when the body took the tree path.
        public var submit: SubmitRequest?
        /// An EXEC, CANCEL or STATUS body holding the workflow's id alone, read straight
        /// into its typed value (`decodeRequest`'s `typedBodies`); `body` is then empty.
        public var ref: WorkflowRef?

        public init(command: ClientCommand, tag: [UInt8] = [], body: [String: JSONValue] = [:], submit: SubmitRequest? = nil,
                    ref: WorkflowRef? = nil) {
            self.command = command
            self.tag = tag
            self.body = body
            self.submit = submit
            self.ref = ref
        }

        /// The SUBMIT's typed body: read at decode when it was plainly valid, from the
        /// tree otherwise (which words any error).
        public func submitRequest() throws(WireError) -> SubmitRequest {
            if let submit { return submit }
            return try SubmitRequest(body: body)
        }

        /// The workflow an EXEC or CANCEL names: read at decode when the body held its id
        /// alone, from the tree otherwise (which words any error).
        public func workflowRef() throws(WireError) -> WorkflowRef {
            if let ref { return ref }
            return try WorkflowRef(body: body)
        }

        /// A STATUS's body: from the typed id (the body held nothing else, so the first
        /// page), from the tree otherwise.
        public func statusRequest() throws(WireError) -> StatusRequest {
            if let ref { return StatusRequest(id: ref.id) }
            return try StatusRequest(body: body)
        }
    }

    /// A decode failure: the error to send and the tag to echo (empty when the tag frame
    /// was missing or invalid).
    public struct Rejection: Error, Equatable, Sendable {
        public let error: WireError
        public let tag: [UInt8]
    }

    /// Decodes the frames after the ROUTER's routing-id frame.
    ///
    /// Checks in the contract's order: delimiter, protocol id and version, frame count,
    /// command, body — so the first thing wrong is the thing reported.
    /// `maxBytes` bounds the whole request (all frames after the routing id); a larger
    /// one is refused with `too_large` before its body is parsed.
    /// With `typedBodies` (the broker), a plainly valid SUBMIT body is read straight into
    /// `Request.submit` (JSONParser+Spec.swift), and an EXEC, CANCEL or STATUS body that
    /// holds the workflow's id alone into `Request.ref`; any other body takes the tree
    /// path, which words its error.
    public static func decodeRequest(_ frames: ArraySlice<[UInt8]>, maxBytes: Int = .max,
                                     typedBodies: Bool = false) throws(Rejection) -> Request {
        // Read in place (an `Array` of the slice retained and released every frame).
        let f = frames, at = frames.startIndex
        // A tag is echoed whenever frame 3 exists and is valid, even when something
        // earlier is wrong, so a pipelining client can match the ERROR to its request.
        let tag = f.count > 3 && f[at + 3].count <= maxTagBytes ? f[at + 3] : []
        func reject(_ code: ErrorCode, _ message: String) -> Rejection {
            Rejection(error: WireError(code, message), tag: tag)
        }
        guard let first = f.first, first.isEmpty else {
            throw reject(.badRequest, "frame 0 must be the empty delimiter")
        }
        guard f.count > 1 else { throw reject(.badRequest, "missing frame 1 (protocol id)") }
        guard f[at + 1] == protocolId else {
            let got = String(decoding: f[at + 1].prefix(32), as: UTF8.self)
            if got.hasPrefix("BATON/") {
                throw reject(.unsupportedVersion, "protocol version \"\(got)\" is not supported; this broker speaks BATON/1")
            }
            throw reject(.unsupportedVersion, "frame 1 must be the protocol id \"BATON/1\", got \"\(got)\"")
        }
        guard f.count == 5 else {
            throw reject(.badRequest, "a request has 5 frames (delimiter, protocol, command, tag, body); got \(f.count)")
        }
        guard f[at + 3].count <= maxTagBytes else {
            throw reject(.badRequest, "tag is \(f[at + 3].count) bytes; at most \(maxTagBytes) allowed")
        }
        guard let command = ClientCommand(frame: f[at + 2]) else {
            throw reject(.unknownCommand, "unknown command \"\(String(decoding: f[at + 2].prefix(32), as: UTF8.self))\"")
        }
        let size = f.reduce(0) { $0 + $1.count }
        guard size <= maxBytes else {
            throw reject(.tooLarge, "message is \(size) bytes; the limit is \(maxBytes)")
        }
        let body = f[at + 4]
        if typedBodies {
            if command == .submit, let submit = JSONParser.plainSubmit(body) {
                return Request(command: command, tag: tag, submit: submit)
            }
            if command == .exec || command == .cancel || command == .status, let ref = JSONParser.plainRef(body) {
                return Request(command: command, tag: tag, ref: ref)
            }
        }
        do {
            return Request(command: command, tag: tag, body: try decodeBody(body))
        } catch {
            throw reject(.badRequest, error.message)
        }
    }

    /// Encodes a request, without the routing id (a DEALER or REQ sends this).
    public static func encodeRequest(_ command: ClientCommand, tag: [UInt8] = [], body: JSONValue = .object([:])) -> [[UInt8]] {
        encode(command.rawValue, tag: tag, body: body)
    }

    /// Encodes a reply, without the routing id.
    public static func encodeReply(_ command: ReplyCommand, tag: [UInt8], body: JSONValue) -> [[UInt8]] {
        encode(command.rawValue, tag: tag, body: body)
    }

    /// A reply whose body is already written.
    public static func encodeReply(_ command: ReplyCommand, tag: [UInt8], bodyBytes: [UInt8]) -> [[UInt8]] {
        [[], protocolId, command.frame, tag, bodyBytes]
    }

    /// A reply as a ROUTER sends it: `peer`'s routing id, then `encodeReply`'s frames,
    /// built as one array (prepending the routing id to `encodeReply` made a second).
    public static func routedReply(to peer: [UInt8], _ command: ReplyCommand, tag: [UInt8], bodyBytes: [UInt8]) -> [[UInt8]] {
        [peer, [], protocolId, command.frame, tag, bodyBytes]
    }

    /// Requests and replies share one layout; only the command's vocabulary differs.
    private static func encode(_ command: String, tag: [UInt8], body: JSONValue) -> [[UInt8]] {
        [[], protocolId, Array(command.utf8), tag, JSONWriter.bytes(body)]
    }

    /// A decoded reply (what a client receives).
    public struct Reply: Equatable, Sendable {
        public var command: ReplyCommand
        public var tag: [UInt8]
        public var body: [String: JSONValue]
    }

    /// Decodes a reply as a DEALER receives it (starting at the empty delimiter). REQ
    /// sockets strip the delimiter; pass `hasDelimiter: false` for them.
    public static func decodeReply(_ frames: [[UInt8]], hasDelimiter: Bool = true) throws(WireError) -> Reply {
        let f = hasDelimiter ? frames : [[]] + frames
        guard f.count == 5, f[0].isEmpty else { throw WireError(.badRequest, "a reply has 5 frames; got \(f.count)") }
        guard f[1] == protocolId else { throw WireError(.unsupportedVersion, "reply protocol is not BATON/1") }
        let name = String(decoding: f[2], as: UTF8.self)
        guard let command = ReplyCommand(rawValue: name) else {
            throw WireError(.unknownCommand, "unknown reply command \"\(name)\"")
        }
        return Reply(command: command, tag: f[3], body: try decodeBody(f[4]))
    }
}

/// Parses a body frame: valid UTF-8, valid JSON, and a JSON object.
public func decodeBody(_ bytes: [UInt8]) throws(WireError) -> [String: JSONValue] {
    let value: JSONValue
    do {
        value = try JSONParser.parse(bytes)
    } catch {
        // The parser validates UTF-8 inside strings, and outside them accepts only
        // ASCII, so a body that parsed is valid UTF-8: the separate check (a copy of
        // the whole frame) is only needed to word the error.
        if String(validating: bytes, as: UTF8.self) == nil {
            throw WireError(.badRequest, "body is not valid UTF-8")
        }
        throw WireError(.badRequest, "body: \(error.description)")
    }
    guard case .object(let object) = value else {
        throw WireError(.badRequest, "body must be a JSON object, got \(value.typeName)")
    }
    return object
}
