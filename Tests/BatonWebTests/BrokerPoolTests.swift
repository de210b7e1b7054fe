import BatonClient
import XCTest
@testable import BatonWeb

/// Against an endpoint where nothing listens: a page must end with "broker unreachable
/// at EP" after one timeout, and the next call must not wait it out again.
final class BrokerPoolTests: XCTestCase {
    func testABrokerThatIsDownIsNamedAndThenFailsFast() async throws {
        let endpoint = "tcp://127.0.0.1:9" // discard port: nothing answers BATON there
        let pool = BrokerPool(name: "test", endpoint: endpoint, threads: 1, queueLimit: 4, fastFailMs: 5000) {
            try BatonClient(endpoint: endpoint, timeoutMs: 200, attempts: 1)
        }
        defer { pool.shutdown() }
        let clock = ContinuousClock()
        for round in 0..<2 {
            let start = clock.now
            do {
                _ = try await pool.call { try $0.stats() }
                XCTFail("STATS answered from \(endpoint)")
            } catch {
                guard case .brokerUnreachable(let ep, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(ep, endpoint)
                XCTAssertTrue(error.message.hasPrefix("broker unreachable at \(endpoint)"))
            }
            let took = start.duration(to: clock.now)
            XCTAssertLessThan(took, round == 0 ? .seconds(3) : .milliseconds(100), "round \(round)")
        }
    }
}
