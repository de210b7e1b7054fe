import BatonKeys
import Foundation
import XCTest
import ZeroMQ

final class CurveCertificateTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testWrittenPairReadsBackAndTheSecretIsPrivate() throws {
        let cert = try CurveCertificate.generate(name: "alice")
        try cert.writePair(directory: dir, name: "alice")
        let pub = try CurveCertificate.read(path: dir + "/alice.key")
        XCTAssertEqual(pub.publicKey, cert.publicKey)
        XCTAssertNil(pub.secretKey, "the public file holds no secret")
        XCTAssertEqual(pub.metadata["name"], "alice")
        let secret = try CurveCertificate.readSecret(path: dir + "/alice.key_secret")
        XCTAssertEqual(secret.secretKey, cert.secretKey)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/alice.key_secret")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
    }

    func testNeverOverwritesAKey() throws {
        try CurveCertificate.generate().writePair(directory: dir, name: "k")
        XCTAssertThrowsError(try CurveCertificate.generate().writePair(directory: dir, name: "k")) { error in
            XCTAssertTrue("\(error)".contains("exists already"), "\(error)")
        }
    }

    /// The text pyzmq's `zmq.auth.create_certificates` writes (pyzmq 25, certs.py).
    func testReadsPyzmqCertificates() throws {
        let pair = try CurveKeyPair.generate()
        let text = """
            #   ****  Generated on 2026-12-04 18:00:00.000000 by pyzmq  ****
            #   ZeroMQ CURVE **Secret** Certificate
            #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

            metadata
            curve
                public-key = "\(pair.publicKey)"
                secret-key = "\(pair.secretKey)"

            """
        try text.write(toFile: dir + "/server.key_secret", atomically: true, encoding: .utf8)
        let cert = try CurveCertificate.readSecret(path: dir + "/server.key_secret")
        XCTAssertEqual(cert.publicKey, pair.publicKey)
        XCTAssertEqual(cert.secretKey, pair.secretKey)
    }

    func testReadsABareZ85SecretKeyFile() throws {
        let pair = try CurveKeyPair.generate()
        try (pair.secretKey + "\n").write(toFile: dir + "/old.secret", atomically: true, encoding: .utf8)
        XCTAssertEqual(try CurveCertificate.readSecret(path: dir + "/old.secret").publicKey, pair.publicKey)
    }

    func testBadFilesNameTheFileAndTheProblem() throws {
        let pair = try CurveKeyPair.generate()
        let other = try CurveKeyPair.generate()
        let cases: [(String, String)] = [
            ("hello\n", "no curve public-key"),
            ("curve\n    public-key = \"short\"\n", "not a 40-character Z85 key"),
            ("curve\n    public-key = \"\(pair.publicKey)\"\n    secret-key = \"\(other.secretKey)\"\n", "does not belong"),
        ]
        for (i, (text, problem)) in cases.enumerated() {
            let path = dir + "/bad\(i).key"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try CurveCertificate.read(path: path)) { error in
                XCTAssertTrue("\(error)".contains(path) && "\(error)".contains(problem), "\(error)")
            }
        }
        try "curve\n    public-key = \"\(pair.publicKey)\"\n".write(toFile: dir + "/pub.key", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CurveCertificate.readSecret(path: dir + "/pub.key")) { error in
            XCTAssertTrue("\(error)".contains("has no secret-key"), "\(error)")
        }
        XCTAssertThrowsError(try CurveCertificate.read(path: dir + "/missing.key"))
    }
}
