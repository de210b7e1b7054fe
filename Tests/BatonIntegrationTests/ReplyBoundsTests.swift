import BatonClient
import BatonWire
import Foundation
import XCTest
import ZeroMQ

/// Issue 12, hole 3: broker memory bounded in bytes, not only in messages. The probe: a
/// client that never reads sends thousands of STATUS for a workflow with ~900 KB of
/// output (it grew the broker to 2.7 GB RSS, 4.1 GB peak, and stalled other clients for
/// 4.7 s). Now its unread replies are capped per connection (spec §3.4) and STATUS is
/// paged (§4.3.3).
final class ReplyBoundsTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
        try cluster.startWorker(types: "echo", capacity: 2, name: "w1")
    }

    override func tearDown() { cluster.stopAll() }

    private func echo(_ sizes: [Int], name: String) -> WorkflowSpec {
        WorkflowSpec(name: name, blocks: [BlockSpec(concurrency: 2, jobs: sizes.enumerated().map { k, size in
            JobSpec(type: "echo", args: ["pad": .string(String(repeating: "\(k % 10)", count: size))])
        })])
    }

    /// VmRSS and VmHWM of the broker process, in MiB.
    private func brokerMemory() throws -> (rss: Double, peak: Double) {
        let pid = try XCTUnwrap(cluster.broker).processIdentifier
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kib(_ key: String) -> Double {
            let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") } ?? ""
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return (kib("VmRSS") / 1024, kib("VmHWM") / 1024)
    }

    func testAClientThatNeverReadsCannotGrowTheBrokerAndOthersAreStillAnswered() throws {
        let client = try cluster.client(timeoutMs: 30_000)
        defer { client.close() }
        let done = try client.run(echo([900_000], name: "big-output"))
        XCTAssertEqual(done.state, .succeeded)
        let id = done.id
        let clock = ContinuousClock()
        var quiet: Duration = .zero
        for _ in 0..<3 {
            let start = clock.now
            _ = try client.status(id)
            try client.ping()
            quiet = max(quiet, clock.now - start)
        }
        let before = try brokerMemory()

        // The probe: a raw DEALER that sends 4000 STATUS and never reads. Its own receive
        // queue holds one message, so the replies pile up on the broker's side. It stays
        // connected (holding what it was sent) until `release`.
        let requests = 4000
        let finished = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let closed = DispatchSemaphore(value: 0)
        let endpoint = cluster.clientEndpoint
        Thread {
            defer { closed.signal() }
            guard let context = try? Context(), let flooder = try? context.socket(.dealer) else {
                finished.signal()
                return
            }
            try? flooder.setReceiveHighWaterMark(1)
            try? flooder.connect(endpoint)
            let body = Array(#"{"id":"\#(id)"}"#.utf8)
            var sent = 0
            let giveUp = Date().addingTimeInterval(120)
            while sent < requests && Date() < giveUp {
                let frames: [[UInt8]] = [[], Array("BATON/1".utf8), Array("STATUS".utf8), Array("f\(sent)".utf8), body]
                if (try? flooder.send(frames, dontWait: true)) == true { sent += 1 } else { Thread.sleep(forTimeInterval: 0.001) }
            }
            finished.signal()
            release.wait()
            flooder.close(linger: 0)
        }.start()
        defer {
            release.signal()
            closed.wait()
        }

        // Meanwhile a legitimate client keeps asking; each answer's wait is measured.
        var slowest: Duration = .zero
        var answers = 0
        var peakSeen = before.rss
        let other = try cluster.client(timeoutMs: 20_000)
        defer { other.close() }
        var flooding = true
        var tail = 0
        while flooding || tail < 20 {
            if flooding && finished.wait(timeout: .now()) == .success { flooding = false }
            if !flooding { tail += 1 }
            let start = clock.now
            XCTAssertEqual(try other.status(id).blocks[0].jobs[0].output?["pad"]?.stringValue?.utf8.count, 900_000)
            try other.ping()
            slowest = max(slowest, clock.now - start)
            answers += 1
            peakSeen = max(peakSeen, try brokerMemory().rss)
        }
        let after = try brokerMemory()
        let log = cluster.log("broker.log")
        let dropped = log.components(separatedBy: "bytes of replies unread (cap").count - 1
        let suppressed = log.split(separator: "\n").filter { $0.contains("log line(s) suppressed") }.count
        print("""
            probe: \(requests) STATUS of a 900 KB output from a client that never reads
              broker VmRSS before \(String(format: "%.1f", before.rss)) MiB, highest sampled \(String(format: "%.1f", peakSeen)) MiB, \
            after \(String(format: "%.1f", after.rss)) MiB, VmHWM \(String(format: "%.1f", after.peak)) MiB
              other client: \(answers) STATUS+PING round trips, slowest \(slowest) (slowest of 3 before the flood: \(quiet))
              broker log: \(dropped) line(s) about the flooder's requests or replies dropped (\(suppressed) more summarised)
            """)
        // Without the cap the replies alone would be 4000 x 900 KB = 3.4 GiB.
        XCTAssertLessThan(after.peak - before.rss, 256, "the broker's peak grew by less than 256 MiB")
        XCTAssertLessThan(slowest, .seconds(10), "the other client was answered (a bound against hangs)")
        XCTAssertGreaterThan(dropped, 0, "the flooder's requests and replies were dropped once its queue was full")
        XCTAssertTrue(cluster.broker?.isRunning ?? false)
    }

    func testStatusOfAWorkflowOverManyPagesIsWholeInTheSDKAndTheCLI() throws {
        let client = try cluster.client(timeoutMs: 30_000)
        defer { client.close() }
        // Five ~200 KB outputs: two never share a 256 KiB page.
        let done = try client.run(echo(Array(repeating: 200_000, count: 5), name: "paged"))
        XCTAssertEqual(done.state, .succeeded)
        let first = try client.statusPage(done.id)
        XCTAssertEqual(first.status.blocks[0].jobs.count, 1, "one ~200 KB job a page")
        XCTAssertEqual(first.next, 1)
        let whole = try client.status(done.id)
        XCTAssertEqual(whole.blocks[0].jobs.map(\.jobId), (0..<5).map { "\(done.id).0.\($0)" })
        XCTAssertEqual(whole.blocks[0].jobs.compactMap { $0.output?["pad"]?.stringValue?.utf8.count }, Array(repeating: 200_000, count: 5))
        XCTAssertEqual(whole, done, "run's final STATUS is whole too")

        let (code, printed) = try cluster.baton(["status", done.id], log: "status.log")
        XCTAssertEqual(code, 0, printed)
        for k in 0..<5 { XCTAssertTrue(printed.contains("    0.\(k) echo  SUCCEEDED"), "job 0.\(k) in:\n\(printed.prefix(2000))") }
    }
}
