import BatonKeys
import BatonWire
import Foundation
import XCTest

/// Baton across a real network: three hosts made of network namespaces and veth pairs
/// (`NetworkHosts`), the broker in `a` on a non-loopback address, a worker in `b`, clients
/// in `c`, every one of them a `baton` process. Needs root; skipped (saying why) without.
final class NetworkNamespaceTests: XCTestCase {
    var hosts: NetworkHosts!

    static let clients = "tcp://\(NetworkHosts.brokerAddress):5555"
    static let workers = "tcp://\(NetworkHosts.brokerAddress):5556"

    override func setUpWithError() throws {
        try NetworkHosts.skipUnlessAvailable()
        hosts = try NetworkHosts()
    }

    override func tearDown() {
        for problem in hosts?.tearDown() ?? [] { XCTFail(problem) }
        hosts = nil
    }

    func testWorkflowRunsOnAWorkerInAnotherHostForAClientInAThird() throws {
        let keys = try makeKeys()
        try startKeyedBroker(keys)
        let worker = try hosts.start(on: .b, ["worker", "--broker", Self.workers, "--types", "echo", "--name", "host-b",
                                              "--curve-server", keys.brokerPublic, "--curve-secret", keys.secret("workers", "worker-b")],
                                     log: "worker.log")
        // `ip` enters b, then execs baton in place: the pid we hold becomes the worker in b.
        let baton = URL(fileURLWithPath: Cluster.binary).resolvingSymlinksInPath().path
        try hosts.wait("the worker's pid runs baton in b") {
            let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker.processIdentifier)/exe")
            let namespace = try hosts.namespace(of: worker.processIdentifier)
            return exe == baton && namespace == hosts.namespace(.b)
        }

        let file = try writeWorkflow("across-the-link", from: "host c")
        let (code, out) = try hosts.baton(on: .c, ["run", file, "--journal", hosts.dir.appendingPathComponent("journal.jsonl").path]
                                              + clientFlags(keys, "clients", "client-c"), log: "run.log")
        XCTAssertEqual(code, 0, "the workflow SUCCEEDED:\n\(out)\nbroker:\n\(hosts.log("broker.log"))\nworker:\n\(hosts.log("worker.log"))")
        XCTAssertTrue(out.contains(" on host-b"), "the job went to the worker in b:\n\(out)")

        let id = try XCTUnwrap(submittedId(out), "`baton run` printed the ID:\n\(out)")
        let (statusCode, json) = try hosts.baton(on: .c, ["status", id, "--json"] + clientFlags(keys, "clients", "client-c"),
                                                 log: "status.log")
        XCTAssertEqual(statusCode, 0, json)
        let status = try JSONParser.parse(json.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(status["state"]?.stringValue, "SUCCEEDED")
        XCTAssertEqual(status["owner"]?.stringValue, "client-c", "the broker knew the client by its key")
        let job = status["blocks"]?.arrayValue?.first?["jobs"]?.arrayValue?.first
        XCTAssertEqual(job?["output"]?["from"]?.stringValue, "host c", "the worker echoed the client's args back")
    }

    func testUnlistedKeyFromAnotherHostIsRefused() throws {
        let keys = try makeKeys()
        try startKeyedBroker(keys)
        // A listed client's workflow, so that the admin's LIST below is seen to show rows.
        let (friendCode, friendOut) = try hosts.baton(on: .c, ["submit", try writeWorkflow("from-a-friend", from: "host c")]
                                                          + clientFlags(keys, "clients", "client-c"), log: "friend.log")
        XCTAssertEqual(friendCode, 0, friendOut)

        let (code, out) = try hosts.baton(on: .c, ["submit", try writeWorkflow("from-a-stranger", from: "host c"),
                                                   "--timeout-ms", "1000", "--retries", "1"]
                                              + clientFlags(keys, "strangers", "stranger-c"), log: "stranger.log")
        XCTAssertEqual(code, 2, "the stranger's client gave up:\n\(out)")
        XCTAssertTrue(out.contains("no reply from the broker"), "a refused handshake looks like a timeout:\n\(out)")

        let (listCode, list) = try hosts.baton(on: .c, ["list"] + clientFlags(keys, "admins", "admin-c"), log: "list.log")
        XCTAssertEqual(listCode, 0, list)
        XCTAssertTrue(list.contains("from-a-friend"), "the admin sees every workflow:\n\(list)")
        XCTAssertFalse(list.contains("from-a-stranger"), "nothing was stored for the stranger:\n\(list)")

        let stranger = try CurveCertificate.read(path: keys.dir.appendingPathComponent("strangers/stranger-c.key").path).publicKey
        try hosts.wait("the broker logs the refused key") {
            hosts.log("broker.log").contains("zap: refused unlisted key \(stranger) from \(NetworkHosts.clientAddress) on the client endpoint")
        }
    }

    func testPlainModeServesTheNetworkAddressOnlyWithInsecure() throws {
        let plain = ["broker", "--clients", Self.clients, "--workers", Self.workers,
                     "--db", hosts.dir.appendingPathComponent("plain.db").path]
        let (code, out) = try hosts.baton(on: .a, plain, log: "refused.log")
        XCTAssertNotEqual(code, 0, "a broker without keys refuses a non-loopback address:\n\(out)")
        XCTAssertTrue(out.contains("\(Self.clients) is not a loopback address"), "the message names the endpoint:\n\(out)")
        XCTAssertTrue(out.contains("--insecure"), "the message says how to serve it anyway:\n\(out)")

        let broker = try hosts.start(on: .a, plain + ["--insecure"], log: "insecure.log")
        var attempt = 0
        try hosts.wait("a plain client in c reaches the --insecure broker") {
            if !broker.isRunning { throw TestFailure("the --insecure broker exited:\n\(hosts.log("insecure.log"))") }
            attempt += 1
            return try hosts.baton(on: .c, ["ping", "--broker", Self.clients, "--timeout-ms", "500", "--retries", "1"],
                                   log: "ping-\(attempt).log").0 == 0
        }
        let log = hosts.log("insecure.log")
        XCTAssertTrue(log.contains("INSECURE: \(Self.clients) is served without keys"), "the start warns:\n\(log)")
        XCTAssertTrue(log.contains("INSECURE: \(Self.workers) is served without keys"), "for both endpoints:\n\(log)")
    }

    // MARK: Helpers

    /// Certificates made with `baton keygen`, one directory per role; the broker's and
    /// the stranger's are in directories the broker does not list.
    struct Keys {
        let dir: URL
        var brokerPublic: String { dir.appendingPathComponent("broker/broker.key").path }
        func secret(_ role: String, _ name: String) -> String { dir.appendingPathComponent("\(role)/\(name).key_secret").path }
    }

    private func makeKeys() throws -> Keys {
        let keys = Keys(dir: hosts.dir.appendingPathComponent("keys"))
        for (role, name) in [("broker", "broker"), ("clients", "client-c"), ("workers", "worker-b"), ("admins", "admin-c"),
                             ("strangers", "stranger-c")] {
            let (code, out) = try hosts.baton(on: .a, ["keygen", keys.dir.appendingPathComponent(role).path, name],
                                              log: "keygen-\(name).log")
            XCTAssertEqual(code, 0, out)
        }
        return keys
    }

    /// The broker in `a` with CURVE on `brokerAddress`, ready when a listed client in `c`
    /// gets PONG across the link.
    private func startKeyedBroker(_ keys: Keys) throws {
        let broker = try hosts.start(on: .a, [
            "broker", "--clients", Self.clients, "--workers", Self.workers,
            "--db", hosts.dir.appendingPathComponent("baton.db").path, "--heartbeat-ms", "200",
            "--curve-secret", keys.secret("broker", "broker"),
            "--clients-allow", keys.dir.appendingPathComponent("clients").path,
            "--workers-allow", keys.dir.appendingPathComponent("workers").path,
            "--admins-allow", keys.dir.appendingPathComponent("admins").path,
        ], log: "broker.log")
        var attempt = 0
        try hosts.wait("the CURVE broker in a answers a listed client in c") {
            if !broker.isRunning { throw TestFailure("the broker exited:\n\(hosts.log("broker.log"))") }
            attempt += 1
            return try hosts.baton(on: .c, ["ping", "--timeout-ms", "500", "--retries", "1"] + clientFlags(keys, "clients", "client-c"),
                                   log: "ready-\(attempt).log").0 == 0
        }
    }

    private func clientFlags(_ keys: Keys, _ role: String, _ name: String) -> [String] {
        ["--broker", Self.clients, "--curve-server", keys.brokerPublic, "--curve-secret", keys.secret(role, name)]
    }

    /// One echo job whose args say where the workflow came from.
    private func writeWorkflow(_ name: String, from origin: String) throws -> String {
        let url = hosts.dir.appendingPathComponent("\(name).json")
        let spec = #"{"name": "\#(name)", "blocks": [{"jobs": [{"type": "echo", "args": {"from": "\#(origin)"}}]}]}"#
        try spec.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// The ID in `baton run`'s "submitted ID (...)" line.
    private func submittedId(_ output: String) -> String? {
        for line in output.split(whereSeparator: \.isNewline) where line.hasPrefix("submitted ") {
            return line.dropFirst("submitted ".count).split(separator: " ").first.map(String.init)
        }
        return nil
    }
}
