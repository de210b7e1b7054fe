import CZeroMQ

/// The socket options the project sets, named for what they do.
extension Socket {
    func setOption(_ name: Int32, _ value: Int32) throws(ZMQError) {
        let h = try live
        var v = value
        _ = try checked("zmq_setsockopt") { zmq_setsockopt(h, name, &v, MemoryLayout<Int32>.size) }
    }

    func setOption(_ name: Int32, _ value: Int64) throws(ZMQError) {
        let h = try live
        var v = value
        _ = try checked("zmq_setsockopt") { zmq_setsockopt(h, name, &v, MemoryLayout<Int64>.size) }
    }

    func setOption(_ name: Int32, bytes: [UInt8]) throws(ZMQError) {
        let h = try live
        _ = try checked("zmq_setsockopt") {
            bytes.withUnsafeBytes { zmq_setsockopt(h, name, $0.baseAddress, $0.count) }
        }
    }

    func option(_ name: Int32) throws(ZMQError) -> Int32 {
        let h = try live
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = try checked("zmq_getsockopt") { zmq_getsockopt(h, name, &v, &size) }
        return v
    }

    /// How long close waits to deliver queued messages (ms; -1 forever, 0 discard).
    public func setLinger(_ milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_LINGER, milliseconds) }

    /// Outgoing queue bound per peer, in messages. Past it, ROUTER drops (or, with
    /// ROUTER_MANDATORY, reports EAGAIN) and DEALER blocks.
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) { try setOption(ZMQ_SNDHWM, messages) }

    /// Incoming queue bound per peer, in messages.
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) { try setOption(ZMQ_RCVHWM, messages) }

    /// Largest message a peer may send, in bytes. libzmq: "If a peer sends a message
    /// larger than ZMQ_MAXMSGSIZE it is disconnected" — the default (-1) is unlimited,
    /// which lets one client make the broker allocate without bound.
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) { try setOption(ZMQ_MAXMSGSIZE, bytes) }

    /// libzmq: "ZMQ_ROUTER_MANDATORY: ... A value of 0 is the default and discards the
    /// message silently when it cannot be routed ... A value of 1 returns an EHOSTUNREACH
    /// error code". Set on every ROUTER so a lost reply is visible, never silent.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0)) }

    /// The identity a DEALER or REQ presents to a ROUTER.
    public func setRoutingId(_ id: [UInt8]) throws(ZMQError) { try setOption(ZMQ_ROUTING_ID, bytes: id) }

    /// Blocking receive timeout (ms, -1 forever).
    public func setReceiveTimeout(_ milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_RCVTIMEO, milliseconds) }

    /// Reconnect interval and its exponential back-off ceiling (ms).
    public func setReconnectInterval(_ milliseconds: Int32, max: Int32) throws(ZMQError) {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds)
        try setOption(ZMQ_RECONNECT_IVL_MAX, max)
    }
}

/// CURVE (encryption and server authentication) options. Keys are Z85 text, 40 chars.
extension Socket {
    /// Makes this socket a CURVE server with `secretKey`. libzmq: "a CURVE server with no
    /// ZAP handler accepts every client key" — this encrypts and proves the server's
    /// identity, but does not authenticate clients.
    public func setCurveServer(secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secretKey.utf8))
    }

    /// The ZAP domain this socket's handshakes are checked in. libzmq asks the context's
    /// ZAP handler (`inproc://zeromq.zap.01`) about every CURVE handshake and passes the
    /// domain along, so one handler can tell two endpoints apart.
    public func setZapDomain(_ domain: String) throws(ZMQError) { try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8)) }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`.
    public func setCurveClient(serverKey: String, publicKey: String, secretKey: String) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secretKey.utf8))
    }
}

/// A CURVE key pair in Z85 text.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    /// A new random key pair (`zmq_curve_keypair`); fails when libzmq lacks CURVE.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        _ = try checked("zmq_curve_keypair") { zmq_curve_keypair(&pub, &sec) }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The public key of a Z85 secret key (`zmq_curve_public`).
    public static func publicKey(forSecret secret: String) throws(ZMQError) -> String {
        var pub = [CChar](repeating: 0, count: 41)
        _ = try checked("zmq_curve_public") { zmq_curve_public(&pub, secret) }
        return String(cString: pub)
    }

    public static var isSupported: Bool { zmq_has("curve") != 0 }
}

/// Z85 text (ZeroMQ RFC 32), the encoding of CURVE keys in certificates and options.
public enum Z85 {
    /// The 40-character text of a 32-byte key.
    public static func encode(key bytes: [UInt8]) -> String? {
        guard bytes.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard bytes.withUnsafeBufferPointer({ zmq_z85_encode(&text, $0.baseAddress, 32) }) != nil else { return nil }
        return String(cString: text)
    }

    /// The 32 bytes of a 40-character Z85 key; nil when the text is not one.
    public static func decode(key text: String) -> [UInt8]? {
        guard text.utf8.count == 40 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, text) != nil else { return nil }
        return bytes
    }
}
