import XCTest

@testable import BatonWire

/// Commands found from their frame's bytes (`CommandName`) exactly as from the frame
/// made a String and matched by raw value, the path it replaces.
final class CommandNameTests: XCTestCase {
    private func byString<C: RawRepresentable<String>>(_ frame: [UInt8], _: C.Type) -> C? {
        C(rawValue: String(decoding: frame.prefix(32), as: UTF8.self))
    }

    /// Every command's frame, and frames one byte off from one: a byte changed, one
    /// dropped, one added (a NUL included, which packs as zero), the case changed.
    private func candidates<C: RawRepresentable<String> & CaseIterable>(around _: C.Type) -> [[UInt8]] {
        var all: [[UInt8]] = [[], [0], Array("X".utf8), Array(repeating: UInt8(ascii: "A"), count: 17), Array("SUBMITSUBMITSUBMIT".utf8)]
        for c in C.allCases {
            let f = Array(c.rawValue.utf8)
            all.append(f)
            all.append(Array(f.dropLast()))
            all.append(f + [0])
            all.append(f + [UInt8(ascii: "X")])
            all.append(Array(c.rawValue.lowercased().utf8))
            for i in f.indices {
                var g = f
                g[i] &+= 1
                all.append(g)
            }
        }
        return all
    }

    func testAClientCommandIsFoundByItsExactBytesOnly() {
        for f in candidates(around: ClientCommand.self) {
            XCTAssertEqual(ClientCommand(frame: f), byString(f, ClientCommand.self), "\(f)")
        }
        for c in ClientCommand.allCases { XCTAssertEqual(ClientCommand(frame: Array(c.rawValue.utf8)), c) }
    }

    func testAWorkerCommandIsFoundByItsExactBytesOnly() {
        for f in candidates(around: WorkerCommand.self) {
            XCTAssertEqual(WorkerCommand(frame: f), byString(f, WorkerCommand.self), "\(f)")
        }
        for c in WorkerCommand.allCases { XCTAssertEqual(WorkerCommand(frame: Array(c.rawValue.utf8)), c) }
    }

    func testAnUnknownCommandIsStillNamedInTheError() throws {
        do throws(ClientFrames.Rejection) {
            let r = try ClientFrames.decodeRequest(frames("", "BATON/1", "EXECUTE", "t", "{}")[...])
            XCTFail("decoded as \(r)")
        } catch {
            XCTAssertEqual(error.error.code, .unknownCommand)
            XCTAssertEqual(error.error.message, #"unknown command "EXECUTE""#)
            XCTAssertEqual(error.tag, utf8("t"))
        }
        let workerError = wireError { try WorkerFrames.decode(frames("", "BATON-W/1", "RESULTS", "{}")[...]) }
        XCTAssertEqual(workerError?.code, .unknownCommand)
        XCTAssertEqual(workerError?.message, #"unknown worker command "RESULTS""#)
    }

    /// The broker decodes the frames after the routing id: a slice that does not start
    /// at index 0, read in place.
    func testFramesAfterARoutingIdDecodeAsTheWholeMessage() throws {
        let request = frames("", "BATON/1", "EXEC", "t9", #"{"id":"w1"}"#)
        let routed = [utf8("peer")] + request
        XCTAssertEqual(try ClientFrames.decodeRequest(routed.dropFirst(), typedBodies: true),
                       try ClientFrames.decodeRequest(request[...], typedBodies: true))
        XCTAssertEqual(try ClientFrames.decodeRequest(routed.dropFirst(), typedBodies: true).ref, WorkflowRef(id: "w1"))
        let message = frames("", "BATON-W/1", "HEARTBEAT", #"{"n":1}"#)
        XCTAssertEqual(try WorkerFrames.decode(([utf8("worker")] + message).dropFirst()), try WorkerFrames.decode(message[...]))
    }
}
