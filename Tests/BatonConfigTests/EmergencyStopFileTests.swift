import BatonConfig
import XCTest

final class EmergencyStopFileTests: XCTestCase {
    func testNamesMapToGoOrStop() throws {
        let d = try EmergencyStopFile.parse("""
            # kept in configuration management
            "*": go
            satellite-disk-erase: stop
            rollout: GO
            """)
        XCTAssertEqual(d, ["*": .go, "satellite-disk-erase": .stop, "rollout": .go])
        XCTAssertEqual(try EmergencyStopFile.parse(""), [:], "an empty file stops nothing")
    }

    func testAnythingElseIsAnErrorNamingTheLine() {
        XCTAssertThrowsError(try EmergencyStopFile.parse("erase: stop\nrollout: maybe\n", file: "es.yaml")) { error in
            XCTAssertEqual("\(error)", "es.yaml:2: rollout: must be go or stop")
        }
        XCTAssertThrowsError(try EmergencyStopFile.parse("- erase\n", file: "es.yaml")) { error in
            XCTAssertTrue("\(error)".contains("expected a mapping"), "\(error)")
        }
        XCTAssertThrowsError(try EmergencyStopFile.parse("erase: [stop\n", file: "es.yaml"))
        XCTAssertThrowsError(try EmergencyStopFile.load("/nonexistent/es.yaml")) { error in
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }
}
