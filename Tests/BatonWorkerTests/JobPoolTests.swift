import Foundation
import XCTest

@testable import BatonWorker

final class JobPoolTests: XCTestCase {
    /// Every job runs at once, even far beyond `keepIdle`: a job never waits for a
    /// thread (each blocks until all have started, so a queued one would hang them all).
    func testJobsNeverWaitForAThread() {
        let pool = JobPool(keepIdle: 2)
        let n = 50
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<n {
            pool.run {
                started.signal()
                release.wait()
                done.signal()
            }
        }
        for i in 0..<n {
            XCTAssertEqual(started.wait(timeout: .now() + 10), .success, "job \(i) did not start")
        }
        for _ in 0..<n { release.signal() }
        for _ in 0..<n { XCTAssertEqual(done.wait(timeout: .now() + 10), .success) }
    }

    /// Threads are reused across waves of jobs, and every job of every wave runs once.
    func testEveryJobRunsExactlyOnceAcrossWaves() {
        let pool = JobPool(keepIdle: 4)
        let lock = NSLock()
        nonisolated(unsafe) var counts: [Int: Int] = [:]
        for wave in 0..<20 {
            let done = DispatchGroup()
            for j in 0..<16 {
                done.enter()
                pool.run {
                    lock.withLock { counts[wave * 16 + j, default: 0] += 1 }
                    done.leave()
                }
            }
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "wave \(wave)")
        }
        lock.withLock {
            XCTAssertEqual(counts.count, 320)
            XCTAssertTrue(counts.values.allSatisfy { $0 == 1 })
        }
    }
}
