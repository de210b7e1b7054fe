import Foundation
import Synchronization
import XCTest

@testable import BatonWorker

final class CancellationFlagTests: XCTestCase {
    func testCallbacksRunOnceWhenFiredAndLateOnesAtOnce() {
        let flag = CancellationFlag()
        let calls = Mutex<[String]>([])
        flag.whenFired { calls.withLock { $0.append("early") } }
        XCTAssertFalse(flag.isSet)
        XCTAssertEqual(calls.withLock { $0 }, [])
        flag.fire()
        flag.fire()
        XCTAssertTrue(flag.isSet)
        XCTAssertEqual(calls.withLock { $0 }, ["early"])
        flag.whenFired { calls.withLock { $0.append("late") } }
        XCTAssertEqual(calls.withLock { $0 }, ["early", "late"])
    }

    /// Many threads firing and registering at once: every callback runs exactly once
    /// (a lost or doubled callback would mean a shell job never killed, or killed twice).
    func testConcurrentFireAndRegistrationRunEachCallbackOnce() {
        for _ in 0..<50 {
            let flag = CancellationFlag()
            let counts = Mutex<[Int: Int]>([:])
            DispatchQueue.concurrentPerform(iterations: 64) { i in
                if i % 8 == 0 { flag.fire() }
                flag.whenFired { counts.withLock { $0[i, default: 0] += 1 } }
            }
            counts.withLock {
                XCTAssertEqual($0.count, 64)
                XCTAssertTrue($0.values.allSatisfy { $0 == 1 })
            }
        }
    }
}
