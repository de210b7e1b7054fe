import BatonClient
import BatonWire
import Foundation
import XCTest
import ZeroMQ

/// A broker started with a CURVE secret key serves CURVE peers and nobody else.
final class CurveTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws { cluster = try Cluster() }
    override func tearDown() { cluster.stopAll() }

    func testCurveClientsAndWorkersWorkPlainPeersGetNothing() throws {
        guard CurveKeyPair.isSupported else { return XCTFail("this libzmq was built without CURVE; Baton needs it") }
        let pair = try CurveKeyPair.generate()
        XCTAssertEqual(try CurveKeyPair.publicKey(forSecret: pair.secretKey), pair.publicKey)
        let keyFile = cluster.dir.appendingPathComponent("broker.secret")
        try pair.secretKey.write(to: keyFile, atomically: true, encoding: .utf8)
        cluster.curveServerKey = pair.publicKey
        try cluster.startBroker(extra: ["--curve-secret-key-file", keyFile.path])
        try cluster.start(["worker", "--broker", cluster.workerEndpoint, "--types", "echo", "--name", "curvy",
                           "--curve-server-key", pair.publicKey], log: "worker.log")

        let secure = try BatonClient(endpoint: cluster.clientEndpoint, timeoutMs: 5000, attempts: 2,
                                     curve: try .ephemeral(serverKey: pair.publicKey))
        let id = try secure.submit(WorkflowSpec(name: "secret", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["x": 1])])])).id
        _ = try secure.exec(id)
        XCTAssertEqual(try secure.waitFinal(id).state, .succeeded, "a CURVE worker ran the job")

        let plain = try BatonClient(endpoint: cluster.clientEndpoint, timeoutMs: 300, attempts: 1)
        XCTAssertThrowsError(try plain.ping(), "a plain client cannot talk to a CURVE broker")
        let wrongKey = try BatonClient(endpoint: cluster.clientEndpoint, timeoutMs: 300, attempts: 1,
                                       curve: try .ephemeral(serverKey: try CurveKeyPair.generate().publicKey))
        XCTAssertThrowsError(try wrongKey.ping(), "a client expecting another server key gets nothing")
    }
}
