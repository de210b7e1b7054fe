import Foundation
import XCTest

/// The systemd units in deploy/: `systemd-analyze verify` accepts them (a copy whose
/// ExecStart is the binary just built, since verify checks that it exists), the
/// sysusers file makes the user, every flag an ExecStart passes is one the command
/// takes, and the settings the README promises are there. Tests that need a systemd
/// tool skip, saying so, where it is missing.
final class DeployUnitTests: XCTestCase {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")
    static let units = ["baton-broker.service", "baton-worker@.service", "baton-web.service"]
    static let installedBinary = "/usr/local/bin/baton"

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testSystemdAnalyzeVerifiesTheUnits() throws {
        let analyze = try tool("systemd-analyze")
        var copies: [String] = []
        for name in Self.units {
            let text = try unit(name).replacingOccurrences(of: "ExecStart=\(Self.installedBinary) ", with: "ExecStart=\(Cluster.binary) ")
            let copy = dir.appendingPathComponent(name)
            try text.write(to: copy, atomically: true, encoding: .utf8)
            copies.append(copy.path)
        }
        // --man=no: the pages (scripts/man) are not installed here. Verify exits 0 on
        // warnings (an unknown key, a value it cannot parse, ignored), so any output fails.
        let (code, out) = try run(analyze, ["verify", "--man=no"] + copies)
        XCTAssertEqual(code, 0, out)
        XCTAssertEqual(out, "", "systemd-analyze verify had something to say")
    }

    func testTheSysusersFileMakesTheUser() throws {
        let sysusers = try tool("systemd-sysusers")
        let root = dir.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let (code, out) = try run(sysusers, ["--dry-run", "--root=\(root.path)", Self.deploy.appendingPathComponent("baton.sysusers.conf").path])
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("Creating user 'baton'"), out)
    }

    /// Each `--flag` an ExecStart passes appears in that command's `--help`: a renamed
    /// flag would otherwise only show when the service fails to start. `baton web` is
    /// checked once the binary has the command.
    func testEveryFlagInAnExecStartIsTheCommandsOwn() throws {
        for name in Self.units {
            let argv = try execStart(name)
            let command = argv[1]
            let (code, help) = try run(Cluster.binary, [command, "--help"])
            // Without the command, ArgumentParser answers with the root's help (exit 0).
            guard code == 0, help.contains("USAGE: baton \(command) ") else {
                print("DeployUnitTests: \(name): skipped the flag check: this baton has no `\(command)` command")
                continue
            }
            for flag in argv.dropFirst(2) where flag.hasPrefix("--") {
                XCTAssertTrue(help.contains(flag + " "), "\(name): `baton \(command) --help` has no \(flag)")
            }
        }
    }

    func testTheUnitsKeepWhatTheReadmePromises() throws {
        for name in Self.units {
            let text = try unit(name)
            for line in ["User=baton", "Restart=on-failure", "KillSignal=SIGTERM", "NoNewPrivileges=yes", "ProtectSystem=strict",
                         "PrivateTmp=yes", "EnvironmentFile=-/etc/default/baton", "RestartPreventExitStatus=64"] {
                XCTAssertTrue(text.split(separator: "\n").contains(Substring(line)), "\(name): no \(line)")
            }
            let argv = try execStart(name)
            XCTAssertEqual(argv.first, Self.installedBinary, name)
            XCTAssertTrue(argv.joined(separator: " ").contains("--log-format json"), "\(name): journald gets JSON lines")
        }
        let broker = try execStart("baton-broker.service").joined(separator: " ")
        XCTAssertTrue(broker.contains("--config /etc/baton/baton.yaml"), broker)
        XCTAssertTrue(broker.contains("--db /var/lib/baton/baton.db"), broker)
        XCTAssertEqual(try value("StateDirectory", in: "baton-broker.service"), "baton", "/var/lib/baton, the database's directory")

        // The worker's stop must leave its drain the whole --drain-timeout, plus the 3 s
        // the worker waits for cancelled handlers, plus room.
        let worker = try execStart("baton-worker@.service")
        let drain = try XCTUnwrap(worker.firstIndex(of: "--drain-timeout").flatMap { Int(worker[$0 + 1]) })
        let stop = try XCTUnwrap(try value("TimeoutStopSec", in: "baton-worker@.service").flatMap { Int($0) })
        XCTAssertGreaterThanOrEqual(stop, drain + 10, "TimeoutStopSec \(stop) against --drain-timeout \(drain)")
        XCTAssertEqual(try value("KillMode", in: "baton-worker@.service"), "mixed", "SIGTERM to the worker alone, not to its jobs")
    }

    // MARK: Helpers

    private func unit(_ name: String) throws -> String {
        try String(contentsOf: Self.deploy.appendingPathComponent(name), encoding: .utf8)
    }

    /// The last `KEY=` line's value (systemd's rule for a single-valued setting).
    private func value(_ key: String, in name: String) throws -> String? {
        try unit(name).split(separator: "\n").last { $0.hasPrefix("\(key)=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    /// ExecStart's words, without the `$VARIABLE`s an EnvironmentFile may fill in.
    private func execStart(_ name: String) throws -> [String] {
        let line = try XCTUnwrap(try value("ExecStart", in: name), "\(name): no ExecStart")
        return line.split(separator: " ").map(String.init).filter { !$0.hasPrefix("$") }
    }

    /// The tool's path, or a skip that says why.
    private func tool(_ name: String) throws -> String {
        for dir in ["/usr/bin", "/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        print("DeployUnitTests: skipped: \(name) is not installed")
        throw XCTSkip("\(name) is not installed")
    }

    /// Runs a program to its end: exit code and its output (stdout and stderr together).
    private func run(_ program: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
