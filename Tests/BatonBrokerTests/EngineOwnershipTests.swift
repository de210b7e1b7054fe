import BatonConfig
import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Roles and ownership on plain values (spec §3.6): a client key sees and acts on its own
/// workflows only, in memory and in the store alike; admin commands need an admin key.
final class EngineOwnershipTests: XCTestCase {
    let alice = Caller(name: "alice", isAdmin: false)
    let bob = Caller(name: "bob", isAdmin: false)
    let ops = Caller(name: "ops", isAdmin: true)

    private func ask(_ h: EngineHarness, _ command: ClientCommand, _ id: String, as caller: Caller) -> ClientReply {
        h.request(command, ["id": .string(id)], as: caller)
    }

    func testAnotherClientKeyGetsNotFoundForEveryCommandInMemoryAndInTheStore() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 10)
        let id = h.submit(spec([jobs(1)]), as: alice)
        XCTAssertEqual(h.status(id).owner, "alice")
        XCTAssertEqual(try h.store.workflow(id: id)?.owner, "alice", "the owner is stored")

        for command in [ClientCommand.exec, .status, .cancel, .watch] {
            let r = ask(h, command, id, as: bob)
            XCTAssertEqual(r.body["code"], "not_found", "\(command) of another owner's workflow")
            XCTAssertEqual(r.body["message"], .string("no workflow with id \"\(id)\""), "the same answer as for no workflow")
        }
        XCTAssertEqual(h.status(id).state, .submitted, "bob's EXEC and CANCEL changed nothing")

        let exec = ask(h, .exec, id, as: alice)
        XCTAssertEqual(exec.command, .status)
        XCTAssertEqual(exec.body["owner"], "alice", "STATUS shows the owner")
        h.drain(["w1"])
        XCTAssertEqual(h.status(id).state, .succeeded)
        XCTAssertEqual(ask(h, .status, id, as: alice).body["state"], "SUCCEEDED", "finished: read from the store")
        XCTAssertEqual(ask(h, .status, id, as: bob).body["code"], "not_found", "the store read is filtered too")
        XCTAssertEqual(ask(h, .watch, id, as: bob).body["code"], "not_found")
        XCTAssertEqual(ask(h, .status, id, as: ops).body["owner"], "alice", "an admin sees every workflow")
    }

    func testListShowsAClientKeyOnlyItsOwnWhateverItAsksAdminsEverything() throws {
        let h = try EngineHarness()
        let a = h.submit(spec([jobs(1)]), as: alice)
        let b = h.submit(spec([jobs(1)]), as: bob)
        func ids(_ body: [String: JSONValue], as caller: Caller) -> [String] {
            let r = h.request(.list, body, as: caller)
            return (r.body["workflows"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
        }
        XCTAssertEqual(ids([:], as: alice), [a])
        XCTAssertEqual(ids(["owner": "bob"], as: alice), [a], "a client key's owner filter is its own name")
        XCTAssertEqual(ids([:], as: ops), [b, a])
        XCTAssertEqual(ids(["owner": "bob"], as: ops), [b])
        let row = h.request(.list, [:], as: ops).body["workflows"]?.arrayValue?.last
        XCTAssertEqual(row?["owner"], "alice", "LIST rows show the owner")
    }

    func testAdminCommandsAreForbiddenToClientKeys() throws {
        let h = try EngineHarness()
        for (command, body) in [(ClientCommand.stop, StopRequest(name: "*", reason: "r").body.objectValue!),
                                (.resume, ResumeRequest(name: "*").body.objectValue!), (.limits, [:])] {
            let r = h.request(command, body, as: alice)
            XCTAssertEqual(r.body["code"], "forbidden", "\(command) from a client key")
            XCTAssertTrue(r.body["message"]?.stringValue?.contains("alice") ?? false)
            XCTAssertEqual(h.request(command, body, as: ops).command, .ok, "\(command) from an admin key")
        }
        XCTAssertEqual(try h.store.loadStops(), [:], "the forbidden STOP stored nothing; the admin's RESUME lifted its stop")
    }

    func testAnotherOwnersIdempotencyKeyIsAConflictWithoutItsId() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)]), key: "deploy-42", as: alice)
        let r = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)]), idempotencyKey: "deploy-42").body.objectValue!, as: bob)
        XCTAssertEqual(r.body["code"], "conflict")
        XCTAssertFalse(r.body["message"]?.stringValue?.contains(id) ?? true, "the other owner's id is not told")
        XCTAssertEqual(h.submit(spec([jobs(1)]), key: "deploy-42", as: alice), id, "the owner's retry is a duplicate")
    }

    func testAnOwnersPolicyNamesTheKeysThatMayRunAName() throws {
        let h = try EngineHarness()
        h.engine.usePolicies(PolicySet(policies: [Policy(name: "erasers", workflows: [NamePattern("erase")],
                                                         rules: [.owners(["alice"])])], defaultDecision: .allow))
        XCTAssertFalse(h.submit(spec([jobs(1)], name: "erase"), as: alice).isEmpty)
        let r = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "erase")).body.objectValue!, as: bob)
        XCTAssertEqual(r.body["code"], "policy_denied")
        XCTAssertEqual(r.body["rule"], "owners")
        XCTAssertTrue(r.body["message"]?.stringValue?.contains("bob") ?? false, "\(r.body)")
        let plain = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "erase")).body.objectValue!)
        XCTAssertEqual(plain.body["code"], "policy_denied", "plain mode has no key name: an owners rule refuses")
    }
}
