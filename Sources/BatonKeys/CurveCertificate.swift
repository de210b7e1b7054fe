import Foundation
import ZeroMQ

/// A CURVE certificate in the ZeroMQ ecosystem's file format: the one czmq's `zcert`
/// and pyzmq's `zmq.auth.create_certificates` write and read, so keys made by either
/// work here unchanged and keys made here work there.
///
///     #   ZeroMQ CURVE Public Certificate
///     metadata
///         name = "alice"
///     curve
///         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///
/// `NAME.key` holds the public key; `NAME.key_secret` holds both keys and is written
/// with mode 0600. A bare 40-character Z85 secret key (what `baton keygen --out` wrote
/// before certificates) is read too, so old key files keep working.
public struct CurveCertificate: Equatable, Sendable {
    public var publicKey: String
    /// Nil for a public certificate.
    public var secretKey: String?
    /// The `metadata` section's `key = "value"` pairs.
    public var metadata: [String: String]

    public init(publicKey: String, secretKey: String? = nil, metadata: [String: String] = [:]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.metadata = metadata
    }

    /// A fresh key pair.
    public static func generate(name: String? = nil) throws -> CurveCertificate {
        let pair = try CurveKeyPair.generate()
        return CurveCertificate(publicKey: pair.publicKey, secretKey: pair.secretKey,
                                metadata: name.map { ["name": $0] } ?? [:])
    }

    // MARK: Reading

    /// Reads a certificate file, naming the file and what is wrong with it.
    public static func read(path: String) throws(CertificateError) -> CurveCertificate {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CertificateError(path: path, problem: "cannot be read")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Reads a `.key_secret` file and insists it has the secret key.
    public static func readSecret(path: String) throws(CertificateError) -> CurveCertificate {
        let cert = try read(path: path)
        guard cert.secretKey != nil else {
            throw CertificateError(path: path, problem: "has no secret-key (is it the public .key file? use NAME.key_secret)")
        }
        return cert
    }

    /// Parses ZPL text the way zcert writes it: sections `metadata` and `curve` at the
    /// left margin, `name = "value"` lines indented under them, `#` comments.
    static func parse(_ text: String, path: String) throws(CertificateError) -> CurveCertificate {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if Z85.decode(key: trimmed) != nil {
            guard let publicKey = try? CurveKeyPair.publicKey(forSecret: trimmed) else {
                throw CertificateError(path: path, problem: "holds 40 characters that are not a CURVE secret key")
            }
            return CurveCertificate(publicKey: publicKey, secretKey: trimmed)
        }
        var section = ""
        var curve: [String: String] = [:]
        var metadata: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw)
            let content = line.trimmingCharacters(in: .whitespaces)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if line.first?.isWhitespace == false {
                section = content
                continue
            }
            guard let eq = content.firstIndex(of: "=") else { continue }
            let key = content[..<eq].trimmingCharacters(in: .whitespaces)
            let value = content[content.index(after: eq)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
            if section == "curve" { curve[key] = value } else if section == "metadata" { metadata[key] = value }
        }
        guard let publicKey = curve["public-key"] else {
            throw CertificateError(path: path, problem: "has no curve public-key (not a ZeroMQ certificate?)")
        }
        guard Z85.decode(key: publicKey) != nil else {
            throw CertificateError(path: path, problem: "public-key is not a 40-character Z85 key")
        }
        let secretKey = curve["secret-key"]
        if let secretKey {
            guard Z85.decode(key: secretKey) != nil, let derived = try? CurveKeyPair.publicKey(forSecret: secretKey) else {
                throw CertificateError(path: path, problem: "secret-key is not a 40-character Z85 key")
            }
            guard derived == publicKey else {
                throw CertificateError(path: path, problem: "secret-key does not belong to its public-key")
            }
        }
        return CurveCertificate(publicKey: publicKey, secretKey: secretKey, metadata: metadata)
    }

    // MARK: Writing

    /// The text of the public certificate (`NAME.key`).
    public var publicText: String { text(secret: false) }

    /// The text of the secret certificate (`NAME.key_secret`); nil without a secret key.
    public var secretText: String? { secretKey == nil ? nil : text(secret: true) }

    private func text(secret: Bool) -> String {
        var lines = [
            "#   ****  Generated by baton keygen  ****",
            secret ? "#   ZeroMQ CURVE **Secret** Certificate" : "#   ZeroMQ CURVE Public Certificate",
            secret ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                : "#   Exchange securely, or use a secure mechanism to verify the contents of this file after exchange.",
            "",
            "metadata",
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { lines.append("    \(key) = \"\(value)\"") }
        lines.append("curve")
        lines.append("    public-key = \"\(publicKey)\"")
        if secret, let secretKey { lines.append("    secret-key = \"\(secretKey)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `DIR/NAME.key` and `DIR/NAME.key_secret` (mode 0600). Never overwrites:
    /// replacing a key by accident locks out everyone who holds the old one.
    public func writePair(directory: String, name: String) throws(CertificateError) {
        guard let secretText else { throw CertificateError(path: directory, problem: "no secret key to write") }
        let base = (directory as NSString).appendingPathComponent(name)
        try Self.create(base + ".key_secret", secretText, mode: 0o600)
        try Self.create(base + ".key", publicText, mode: 0o644)
    }

    private static func create(_ path: String, _ text: String, mode: mode_t) throws(CertificateError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "exists already (remove it first to replace the key)" : "cannot be created: \(String(cString: strerror(errno)))"
            throw CertificateError(path: path, problem: reason)
        }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fchmod(fd, mode) == 0 else {
            throw CertificateError(path: path, problem: "cannot be written: \(String(cString: strerror(errno)))")
        }
    }
}

/// A certificate file that cannot be used, and why.
public struct CertificateError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var problem: String

    public var description: String { "\(path) \(problem)" }
}
