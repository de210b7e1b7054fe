import BatonClient
import BatonKeys
import BatonWire
import Foundation
import XCTest
import ZeroMQ

/// Keys and roles end to end (spec §3.5, §3.6): a real broker process with CURVE and a
/// ZAP handler, keys made by `baton keygen`, real CURVE handshakes over tcp.
///
/// Keys: `alice` and `bob` (clients), `ops` (admin), `w1` (worker), `mallory` (made but
/// listed nowhere). Secrets stay in `keys/`; the allowlist directories hold copies of
/// the public `.key` files, as an operator would hand them out.
final class CurveTests: XCTestCase {
    var cluster: Cluster!
    var keys: URL { cluster.dir.appendingPathComponent("keys") }
    func allow(_ role: String) -> URL { cluster.dir.appendingPathComponent("allow-\(role)") }

    override func setUpWithError() throws {
        guard CurveKeyPair.isSupported else { throw XCTSkip("this libzmq was built without CURVE") }
        cluster = try Cluster()
        for role in ["clients", "workers", "admins"] {
            try FileManager.default.createDirectory(at: allow(role), withIntermediateDirectories: true)
        }
        for (name, role) in [("broker", nil), ("alice", "clients"), ("bob", "clients"), ("ops", "admins"), ("w1", "workers"),
                             ("mallory", nil)] {
            try keygen(name, listIn: role)
        }
        cluster.curve = try curve("ops")
        try cluster.startBroker(extra: [
            "--curve-secret", keys.appendingPathComponent("broker.key_secret").path,
            "--clients-allow", allow("clients").path, "--workers-allow", allow("workers").path,
            "--admins-allow", allow("admins").path,
        ])
    }

    override func tearDown() { cluster?.stopAll() }

    /// `baton keygen keys NAME`, then the public file copied into `allow-ROLE/`.
    private func keygen(_ name: String, listIn role: String?) throws {
        let p = try cluster.start(["keygen", keys.path, name], log: "keygen.log")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, cluster.log("keygen.log"))
        if let role {
            try FileManager.default.copyItem(at: keys.appendingPathComponent("\(name).key"),
                                             to: allow(role).appendingPathComponent("\(name).key"))
        }
    }

    private func curve(_ name: String) throws -> CurveClientKeys {
        let own = try CurveCertificate.readSecret(path: keys.appendingPathComponent("\(name).key_secret").path)
        let broker = try CurveCertificate.read(path: keys.appendingPathComponent("broker.key").path)
        return CurveClientKeys(serverKey: broker.publicKey, publicKey: own.publicKey, secretKey: own.secretKey!)
    }

    private func client(_ name: String, timeoutMs: Int = 5000, attempts: Int = 2) throws -> BatonClient {
        try BatonClient(endpoint: cluster.clientEndpoint, timeoutMs: timeoutMs, attempts: attempts, curve: try curve(name))
    }

    @discardableResult
    private func startWorker(key name: String) throws -> Process {
        try cluster.start(["worker", "--broker", cluster.workerEndpoint, "--types", "echo", "--name", name,
                           "--curve-server", keys.appendingPathComponent("broker.key").path,
                           "--curve-secret", keys.appendingPathComponent("\(name).key_secret").path], log: "worker-\(name).log")
    }

    private let echo = WorkflowSpec(name: "greet", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["x": 1])])])

    private func assertTimesOut(_ body: () throws -> Void, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), message, file: file, line: line) { error in
            guard case ClientError.timeout = error else { return XCTFail("\(message): \(error)", file: file, line: line) }
        }
    }

    /// Waits until the broker's log says `text`.
    private func waitForBrokerLog(_ text: String, timeout: TimeInterval = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if cluster.log("broker.log").contains(text) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("broker log never said \"\(text)\":\n\(cluster.log("broker.log"))")
    }

    private func hangUp() throws {
        kill(cluster.broker!.processIdentifier, SIGHUP)
    }

    // MARK: Who gets in

    func testAllowedClientAndWorkerRunAWorkflowPlainAndUnlistedPeersGetNothing() throws {
        try startWorker(key: "w1")
        let alice = try client("alice")
        let id = try alice.submit(echo).id
        _ = try alice.exec(id)
        let done = try alice.waitFinal(id)
        XCTAssertEqual(done.state, .succeeded, "a listed worker ran the job for a listed client")
        XCTAssertEqual(done.owner, "alice", "the owner is the key's name")

        assertTimesOut({ try BatonClient(endpoint: self.cluster.clientEndpoint, timeoutMs: 300, attempts: 1).ping() },
                       "a plain client gets no reply")
        assertTimesOut({ try self.client("mallory", timeoutMs: 300, attempts: 1).ping() }, "an unlisted key gets no reply")
        var wrongServer = try curve("alice")
        wrongServer.serverKey = try CurveKeyPair.generate().publicKey
        assertTimesOut({
            try BatonClient(endpoint: self.cluster.clientEndpoint, timeoutMs: 300, attempts: 1, curve: wrongServer).ping()
        }, "a client expecting another broker gets nothing")
        try waitForBrokerLog("zap: refused unlisted key")
        XCTAssertEqual(try alice.list().workflows.count, 1, "nothing was stored for the refused peers")
    }

    func testKeysOfOneRoleAreRefusedOnTheOtherEndpoint() throws {
        assertTimesOut({ try self.client("w1", timeoutMs: 300, attempts: 1).ping() }, "a worker key on the client endpoint")
        try startWorker(key: "alice")
        try waitForBrokerLog("zap: refused key \"alice\" (client)")
        let alice = try client("alice")
        let id = try alice.submit(echo).id
        _ = try alice.exec(id)
        Thread.sleep(forTimeInterval: 1)
        let status = try alice.status(id)
        XCTAssertEqual(status.state, .running)
        XCTAssertEqual(status.blocks[0].jobs[0].waitingFor, "no worker for echo", "the client-key worker never registered")
    }

    // MARK: Roles and ownership

    func testAdminCommandsNeedAnAdminKey() throws {
        let alice = try client("alice")
        for (what, call) in [("STOP", { _ = try alice.stop(name: "*", reason: "oops") }), ("RESUME", { try alice.resume(name: "*") }),
                             ("LIMITS", { _ = try alice.limits() }), ("STATS", { _ = try alice.stats() })] as [(String, () throws -> Void)] {
            XCTAssertThrowsError(try call(), what) { XCTAssertEqual(($0 as? ClientError)?.code, .forbidden, "\(what): \($0)") }
        }
        let ops = try client("ops")
        XCTAssertNotNil(try ops.stats()["counters"], "an admin key reads STATS")
        XCTAssertEqual(try ops.stop(name: "greet", reason: "drill"), 0)
        XCTAssertThrowsError(try alice.submit(echo)) { XCTAssertEqual(($0 as? ClientError)?.code, .stopped) }
        try ops.resume(name: "greet")
        let (code, out) = try cluster.baton(["stop", "--all", "--reason", "cli", "--curve-server", keys.appendingPathComponent("broker.key").path,
                                             "--curve-secret", keys.appendingPathComponent("alice.key_secret").path], log: "cli-stop.log")
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(out.contains("forbidden"), out)
    }

    func testTwoClientKeysSeeOnlyTheirOwnWorkflowsAnAdminSeesBoth() throws {
        try startWorker(key: "w1")
        let alice = try client("alice"), bob = try client("bob"), ops = try client("ops")
        let a = try alice.submit(echo).id
        let b = try bob.submit(echo).id
        for (what, call) in [("EXEC", { _ = try bob.exec(a) }), ("STATUS", { _ = try bob.status(a) }),
                             ("CANCEL", { _ = try bob.cancel(a) }), ("WATCH", { _ = try bob.watch(a, after: 0) })]
            as [(String, () throws -> Void)] {
            XCTAssertThrowsError(try call(), what) { XCTAssertEqual(($0 as? ClientError)?.code, .notFound, "\(what): \($0)") }
        }
        XCTAssertEqual(try alice.status(a).state, .submitted, "bob's EXEC and CANCEL did nothing")
        XCTAssertEqual(try alice.list().workflows.map(\.id), [a])
        XCTAssertEqual(try bob.list(ListRequest(owner: "alice")).workflows.map(\.id), [b], "a client key cannot list another owner")
        XCTAssertEqual(Set(try ops.list().workflows.map(\.id)), [a, b])
        XCTAssertEqual(try ops.list(ListRequest(owner: "bob")).workflows.map(\.owner), ["bob"])
        _ = try alice.exec(a)
        XCTAssertEqual(try alice.waitFinal(a).state, .succeeded)
        XCTAssertThrowsError(try bob.status(a), "finished, read from the store: still not bob's") {
            XCTAssertEqual(($0 as? ClientError)?.code, .notFound)
        }
        XCTAssertEqual(try ops.status(a).owner, "alice")
        let opsKeys = ["--curve-server", keys.appendingPathComponent("broker.key").path,
                       "--curve-secret", keys.appendingPathComponent("ops.key_secret").path]
        let (statusCode, status) = try cluster.baton(["status", a] + opsKeys, log: "cli-status.log")
        XCTAssertEqual(statusCode, 0, status)
        XCTAssertTrue(status.contains("SUCCEEDED, owner alice"), status)
        let (listCode, list) = try cluster.baton(["list", "--owner", "bob"] + opsKeys, log: "cli-list.log")
        XCTAssertEqual(listCode, 0, list)
        let rows = list.split(separator: "\n")
        XCTAssertTrue(rows.contains { $0.hasPrefix(b) && $0.hasSuffix("  bob") } && !list.contains(a), list)
    }

    // MARK: Reload

    func testReloadAddsAndRemovesKeysAndRemovedKeysStopBeingServed() throws {
        try startWorker(key: "w1")
        let alice = try client("alice")
        try alice.ping()
        let id = try alice.submit(echo).id
        _ = try alice.exec(id)
        XCTAssertEqual(try alice.waitFinal(id).state, .succeeded)
        try keygen("carol", listIn: nil)
        assertTimesOut({ try self.client("carol", timeoutMs: 300, attempts: 1).ping() }, "carol is not listed yet")

        try FileManager.default.removeItem(at: allow("clients").appendingPathComponent("alice.key"))
        try FileManager.default.removeItem(at: allow("workers").appendingPathComponent("w1.key"))
        try FileManager.default.copyItem(at: keys.appendingPathComponent("carol.key"), to: allow("clients").appendingPathComponent("carol.key"))
        try hangUp()
        try waitForBrokerLog("SIGHUP: keys re-read: 2 client")

        XCTAssertThrowsError(try alice.ping(), "alice's open connection is no longer served") {
            XCTAssertEqual(($0 as? ClientError)?.code, .forbidden, "\($0)")
        }
        assertTimesOut({ try self.client("alice", timeoutMs: 300, attempts: 1).ping() }, "a new connection of alice is refused")
        try client("carol").ping()
        try waitForBrokerLog("worker w1 lost (key no longer allowed)")
        let carol = try client("carol")
        let waiting = try carol.submit(echo).id
        _ = try carol.exec(waiting)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try carol.status(waiting).blocks[0].jobs[0].waitingFor, "no worker for echo",
                       "the removed worker gets no job")
    }

    func testABadCertificateOnReloadKeepsTheKeysInForce() throws {
        try "junk".write(to: allow("clients").appendingPathComponent("junk.key"), atomically: true, encoding: .utf8)
        try hangUp()
        try waitForBrokerLog("junk.key has no curve public-key (not a ZeroMQ certificate?); keeping the config and the keys in force")
        try client("alice").ping()
    }
}

/// Plain mode (no keys) serves loopback only unless told `--insecure` (spec §3.5).
final class PlainModeBindTests: XCTestCase {
    func testPlainModeRefusesAWildcardBindWithoutInsecure() throws {
        let cluster = try Cluster()
        defer { cluster.stopAll() }
        let everywhere = "tcp://*:\(cluster.clientPort)"
        let refused = try cluster.start(["broker", "--clients", everywhere, "--workers", cluster.workerEndpoint, "--db", cluster.dbPath],
                                        log: "refused.log")
        refused.waitUntilExit()
        XCTAssertNotEqual(refused.terminationStatus, 0)
        XCTAssertTrue(cluster.log("refused.log").contains("\(everywhere) is not a loopback address"), cluster.log("refused.log"))

        try cluster.startBroker(extra: ["--clients", everywhere, "--insecure"])
        XCTAssertTrue(cluster.log("broker.log").contains("INSECURE: \(everywhere)"), cluster.log("broker.log"))
    }
}
