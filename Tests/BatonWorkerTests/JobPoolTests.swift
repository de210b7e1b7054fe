import Foundation
import Synchronization
import XCTest

@testable import BatonWorker

final class JobPoolTests: XCTestCase {
    /// Jobs beyond capacity wait for a thread: with 3 threads blocked, the 4th..10th job
    /// do not start until one is released, and no more than 3 threads ever exist.
    func testJobsBeyondCapacityWaitForAThread() {
        let pool = JobPool(capacity: 3)
        defer { pool.close() }
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let concurrent = Mutex((now: 0, most: 0))
        for _ in 0..<10 {
            pool.run {
                concurrent.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                started.signal()
                release.wait()
                concurrent.withLock { $0.now -= 1 }
                done.signal()
            }
        }
        for i in 0..<3 { XCTAssertEqual(started.wait(timeout: .now() + 10), .success, "job \(i) did not start") }
        // A 4th start now would break the bound; the short wait only gives it the chance.
        XCTAssertEqual(started.wait(timeout: .now() + 0.2), .timedOut, "a job started beyond capacity")
        XCTAssertEqual(pool.threadCount, 3)
        for _ in 0..<10 { release.signal() }
        for i in 0..<10 { XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "job \(i) did not finish") }
        XCTAssertEqual(concurrent.withLock { $0.most }, 3)
        XCTAssertLessThanOrEqual(pool.threadCount, 3)
    }

    /// Threads are reused across waves of jobs, and every job of every wave runs once.
    func testEveryJobRunsExactlyOnceAcrossWaves() {
        let pool = JobPool(capacity: 4)
        defer { pool.close() }
        let counts = Mutex<[Int: Int]>([:])
        for wave in 0..<20 {
            let done = DispatchGroup()
            for j in 0..<16 {
                done.enter()
                pool.run {
                    counts.withLock { $0[wave * 16 + j, default: 0] += 1 }
                    done.leave()
                }
            }
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "wave \(wave)")
        }
        counts.withLock {
            XCTAssertEqual($0.count, 320)
            XCTAssertTrue($0.values.allSatisfy { $0 == 1 })
        }
        XCTAssertLessThanOrEqual(pool.threadCount, 4)
    }

    /// `close()` lets a running job finish, then every thread ends.
    func testCloseEndsEveryThreadAfterRunningJobsFinish() throws {
        let pool = JobPool(capacity: 2)
        let release = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        pool.run {
            release.wait()
            done.signal()
        }
        pool.run { done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        pool.close()
        XCTAssertGreaterThan(pool.threadCount, 0, "the blocked job's thread must still run")
        release.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        let deadline = Date() + 10
        while pool.threadCount > 0, Date() < deadline { usleep(5000) }
        XCTAssertEqual(pool.threadCount, 0)
    }
}
