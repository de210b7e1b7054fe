import Foundation
import XCTest

/// `baton config check` and `baton policy check` as real processes on temp files: the
/// output a user reads and the exit codes scripts rely on (0 ok/allowed, 1 bad/denied,
/// 2 a bad file for `policy check`).
final class ConfigCommandTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private static let config = """
        default: deny
        policies:
          - name: satellite-erase
            workflows: ["satellite-*"]
            rules:
              - allowed_job_types: [validate.decom, disk.erase]
              - same_args: {disk.erase: [site]}
              - window: {days: [sat, sun], from: "02:00", to: "05:00"}
        limits:
          clients: {max_in_flight: 10}
        """

    private static let twoSites = """
        {"name": "satellite-disk-erase", "blocks": [
          {"jobs": [{"type": "validate.decom"}]},
          {"jobs": [{"type": "disk.erase", "args": {"site": "sfo2"}}, {"type": "disk.erase", "args": {"site": "nyc1"}}]}]}
        """

    private static let oneSite = """
        {"name": "satellite-disk-erase", "blocks": [
          {"jobs": [{"type": "validate.decom"}]},
          {"jobs": [{"type": "disk.erase", "args": {"site": "sfo2"}}, {"type": "disk.erase", "args": {"site": "sfo2"}}]}]}
        """

    func testConfigCheck() throws {
        let good = try write("good.yaml", Self.config)
        var r = try baton(["config", "check", good])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "ok: 1 policies, 1 limits\n")
        r = try baton(["config", "check", "--json", good])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ok = try json(r.stdout)
        XCTAssertEqual(ok["ok"] as? Bool, true)
        XCTAssertEqual(ok["policies"] as? Int, 1)
        XCTAssertEqual(ok["limits"] as? Int, 1)

        let bad = try write("bad.yaml", Self.config.replacingOccurrences(of: "same_args", with: "same_arg"))
        r = try baton(["config", "check", bad])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "error: \(bad):7: policies[0].rules[1].same_arg: unknown key (known keys: allowed_job_types, same_args, first_block, limits, args, window, owners)\n")
        r = try baton(["config", "check", "--json", bad])
        XCTAssertEqual(r.status, 1)
        let e = try XCTUnwrap((try json(r.stdout))["error"] as? [String: Any])
        XCTAssertEqual(e["line"] as? Int, 7)
        XCTAssertEqual(e["path"] as? String, "policies[0].rules[1].same_arg")
    }

    func testPolicyCheck() throws {
        let config = try write("baton.yaml", Self.config)
        let twoSites = try write("two.json", Self.twoSites)
        let oneSite = try write("one.json", Self.oneSite)
        let inWindow = "2026-12-05T03:00:00Z", outside = "2026-12-07T12:00:00Z"

        var r = try baton(["policy", "check", "--config", config, oneSite, "--at", inWindow])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, """
            workflow "satellite-disk-erase" at exec, 2026-12-05T03:00:00.000Z
            policy "satellite-erase"
              rules[0] allowed_job_types: pass
              rules[1] same_args: pass
              rules[2] window: pass
            verdict: allowed

            """)

        let sameArgs = "blocks[1].jobs[1] (disk.erase) args.site is \"nyc1\", other disk.erase jobs have \"sfo2\""
        r = try baton(["policy", "check", "--config", config, twoSites, "--at", inWindow])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("  rules[1] same_args: FAIL: \(sameArgs)\n"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("verdict: denied: policy \"satellite-erase\" rule same_args: \(sameArgs)\n"), r.stdout)

        r = try baton(["policy", "check", "--config", config, oneSite, "--at", outside, "--json"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let o = try json(r.stdout)
        XCTAssertEqual(o["verdict"] as? String, "denied")
        let denial = try XCTUnwrap(o["denial"] as? [String: Any])
        XCTAssertEqual(denial["rule"] as? String, "window")
        XCTAssertEqual(denial["policy"] as? String, "satellite-erase")
        let rules = try XCTUnwrap((o["policies"] as? [[String: Any]])?.first?["rules"] as? [[String: Any]])
        XCTAssertEqual(rules.map { $0["result"] as? String }, ["pass", "pass", "fail"])

        r = try baton(["policy", "check", "--config", config, oneSite, "--at", outside, "--phase", "submit"])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("  rules[2] window: skipped: checked at exec only\n"), r.stdout)

        let other = try write("other.json", #"{"name": "hello", "blocks": [{"jobs": [{"type": "echo"}]}]}"#)
        r = try baton(["policy", "check", "--config", config, other])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.hasSuffix("no policy covers it: default deny\nverdict: denied: no policy covers workflow \"hello\" and default is deny\n"), r.stdout)

        // Bad files: exit 2, never 1 (a denial).
        let badConfig = try write("bad.yaml", "default: perhaps\n")
        r = try baton(["policy", "check", "--config", badConfig, oneSite])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "error: \(badConfig):1: default: \"perhaps\" is neither allow nor deny\n")
        let badWorkflow = try write("bad.json", #"{"name": "x", "blocks": []}"#)
        r = try baton(["policy", "check", "--config", config, badWorkflow])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("workflow.blocks: must hold at least one block"), r.stderr)
    }

    // MARK: Helpers

    private func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    private struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the built `baton` to the end. These commands never touch the network, so
    /// they end by themselves; the wait is bounded so a hang fails instead of blocking.
    private func baton(_ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Cluster.binary)
        p.arguments = args
        let out = dir.appendingPathComponent("out-\(UUID().uuidString)"), err = dir.appendingPathComponent("err-\(UUID().uuidString)")
        try Data().write(to: out)
        try Data().write(to: err)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning, Date() < deadline { usleep(10_000) }
        if p.isRunning {
            p.terminate()
            p.waitUntilExit()
            throw TestFailure("baton \(args.joined(separator: " ")) did not end within 30 s")
        }
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                   stderr: try String(contentsOf: err, encoding: .utf8))
    }
}
