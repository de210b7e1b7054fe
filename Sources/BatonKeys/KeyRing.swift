import Foundation

/// The public keys the broker lets in, each with its name and roles: the three allowlist
/// directories of public certificates (`--clients-allow`, `--workers-allow`,
/// `--admins-allow`) read into one lookup by Z85 public key.
///
/// A key's name is its certificate's file name without `.key` (`alice.key` is `alice`).
/// The name is the owner stored with the workflows the key submits, so it must be
/// stable and unique: two different keys with one name, or one key under two names,
/// are refused when the directories are read.
public struct KeyRing: Equatable, Sendable {
    public struct Member: Equatable, Sendable {
        public var name: String
        public var roles: Set<Role>
    }

    private var members: [String: Member] = [:]

    public init() {}

    /// Where each role's certificates are read from (nil: no key has that role).
    public struct Directories: Equatable, Sendable {
        public var clients: String?
        public var workers: String?
        public var admins: String?

        public init(clients: String? = nil, workers: String? = nil, admins: String? = nil) {
            self.clients = clients
            self.workers = workers
            self.admins = admins
        }

        public var isEmpty: Bool { clients == nil && workers == nil && admins == nil }

        var byRole: [(Role, String)] {
            [(Role.admin, admins), (.client, clients), (.worker, workers)].compactMap { role, dir in dir.map { (role, $0) } }
        }
    }

    /// Reads every `*.key` file of each directory (pyzmq's `load_certificates` does the
    /// same; `.key_secret` files are skipped). Any unreadable directory or certificate
    /// fails the whole read: a half-read allowlist would lock out keys in silence.
    public static func load(_ directories: Directories) throws(CertificateError) -> KeyRing {
        var ring = KeyRing()
        var pathOfName: [String: String] = [:]
        for (role, directory) in directories.byRole {
            let files: [String]
            do {
                files = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw CertificateError(path: directory, problem: "cannot be listed (an allowlist is a directory of NAME.key files)")
            }
            for file in files.sorted() where file.hasSuffix(".key") {
                let path = (directory as NSString).appendingPathComponent(file)
                let name = String(file.dropLast(4))
                let cert = try CurveCertificate.read(path: path)
                try ring.add(cert.publicKey, name: name, role: role, path: path, pathOfName: &pathOfName)
            }
        }
        return ring
    }

    private mutating func add(_ key: String, name: String, role: Role, path: String,
                              pathOfName: inout [String: String]) throws(CertificateError) {
        if let existing = members[key] {
            guard existing.name == name else {
                throw CertificateError(path: path, problem: "holds the key of \"\(existing.name)\" under another name: one key, one name")
            }
            members[key]!.roles.insert(role)
            return
        }
        if let other = pathOfName[name] {
            throw CertificateError(path: path, problem: "names \"\(name)\" like \(other), with a different key: one name, one key")
        }
        pathOfName[name] = path
        members[key] = Member(name: name, roles: [role])
    }

    /// Adds a key directly (tests, and brokers built in code).
    public mutating func insert(_ key: String, name: String, roles: Set<Role>) {
        members[key] = Member(name: name, roles: roles)
    }

    /// The member holding `publicKey` (Z85), if any.
    public func member(_ publicKey: String) -> Member? { members[publicKey] }

    /// Whether `publicKey` may connect to `endpoint`.
    public func admits(_ publicKey: String, to endpoint: Endpoint) -> Bool {
        guard let roles = members[publicKey]?.roles else { return false }
        return !roles.isDisjoint(with: endpoint.admits)
    }

    public var count: Int { members.count }

    /// How many keys hold `role`.
    public func count(_ role: Role) -> Int { members.values.filter { $0.roles.contains(role) }.count }
}
