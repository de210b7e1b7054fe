import BatonKeys
import Foundation
import XCTest

final class KeyRingTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-ring-\(UUID().uuidString)").path
        for sub in ["clients", "workers", "admins"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
        }
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    var directories: KeyRing.Directories {
        KeyRing.Directories(clients: dir + "/clients", workers: dir + "/workers", admins: dir + "/admins")
    }

    /// Writes a pair under `sub` and returns its public key.
    @discardableResult
    func key(_ name: String, in sub: String, copyOf: String? = nil) throws -> String {
        if let copyOf {
            try FileManager.default.copyItem(atPath: dir + "/" + copyOf, toPath: dir + "/" + sub + "/" + name + ".key")
            return try CurveCertificate.read(path: dir + "/" + copyOf).publicKey
        }
        let cert = try CurveCertificate.generate(name: name)
        try cert.writePair(directory: dir + "/" + sub, name: name)
        return cert.publicKey
    }

    func testRolesAndEndpoints() throws {
        let alice = try key("alice", in: "clients")
        let w1 = try key("w1", in: "workers")
        let ops = try key("ops", in: "admins")
        let ring = try KeyRing.load(directories)
        XCTAssertEqual(ring.count, 3, "secret files are skipped")
        XCTAssertEqual(ring.member(alice)?.name, "alice")
        XCTAssertTrue(ring.admits(alice, to: .clients))
        XCTAssertFalse(ring.admits(alice, to: .workers), "a client key is not a worker key")
        XCTAssertTrue(ring.admits(w1, to: .workers))
        XCTAssertFalse(ring.admits(w1, to: .clients), "a worker key is not a client key")
        XCTAssertTrue(ring.admits(ops, to: .clients))
        XCTAssertFalse(ring.admits(ops, to: .workers), "admins use the client endpoint")
        XCTAssertFalse(ring.admits(try CurveCertificate.generate().publicKey, to: .clients))
    }

    func testOneKeyInTwoDirectoriesHasBothRoles() throws {
        let both = try key("both", in: "clients")
        try key("both", in: "workers", copyOf: "clients/both.key")
        XCTAssertEqual(try KeyRing.load(directories).member(both)?.roles, [.client, .worker])
    }

    func testOneNameOneKey() throws {
        try key("alice", in: "clients")
        try key("alice", in: "admins")
        XCTAssertThrowsError(try KeyRing.load(directories)) { error in
            XCTAssertTrue("\(error)".contains("one name, one key"), "\(error)")
        }
    }

    func testOneKeyOneName() throws {
        try key("alice", in: "clients")
        try key("alias", in: "admins", copyOf: "clients/alice.key")
        XCTAssertThrowsError(try KeyRing.load(directories)) { error in
            XCTAssertTrue("\(error)".contains("one key, one name"), "\(error)")
        }
    }

    func testABadCertificateOrDirectoryFailsTheWholeRead() throws {
        try key("alice", in: "clients")
        try "junk".write(toFile: dir + "/clients/junk.key", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try KeyRing.load(directories)) { error in
            XCTAssertTrue("\(error)".contains("junk.key"), "\(error)")
        }
        XCTAssertThrowsError(try KeyRing.load(KeyRing.Directories(clients: dir + "/nope")))
    }
}
