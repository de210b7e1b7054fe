import BatonWire
import XCTest

/// The UTF-8 bytes of `s`: frames and bodies in these tests are written as text.
func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Frames written as text, one string per frame.
func frames(_ parts: String...) -> [[UInt8]] { parts.map(utf8) }

/// The error `body` throws; fails the test (and returns nil) when it returns instead.
func wireError<T>(
    _ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line
) -> WireError? {
    do {
        let value = try body()
        XCTFail("expected a WireError, got \(value)", file: file, line: line)
        return nil
    } catch let error as WireError {
        return error
    } catch {
        XCTFail("expected a WireError, got \(error)", file: file, line: line)
        return nil
    }
}

/// Asserts that `body` throws `bad_request` with exactly `message`.
func assertBadRequest<T>(
    _ message: String, _ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line
) {
    guard let e = wireError(body, file: file, line: line) else { return }
    XCTAssertEqual(e.code, .badRequest, file: file, line: line)
    XCTAssertEqual(e.message, message, file: file, line: line)
}

/// A typed reader's value (nil: it gave up), after checking that the tree path reads
/// the same bytes as the same value. Returns what the typed reader read.
@discardableResult
func checkTypedAgainstTree<T: Equatable, E: Error>(
    _ bytes: [UInt8], typed: T?, tree: Result<T, E>, file: StaticString = #filePath, line: UInt = #line
) -> T? {
    if let typed {
        XCTAssertEqual(typed, try? tree.get(), "read \(String(decoding: bytes, as: UTF8.self)) where the tree path gives \(tree)",
                       file: file, line: line)
    }
    return typed
}

/// Asserts that two ways of decoding gave the same value, or failed with the same error.
func assertSameOutcome<T: Equatable, E: Error>(
    _ a: Result<T, E>, _ b: Result<T, E>, _ message: String, file: StaticString = #filePath, line: UInt = #line
) {
    switch (a, b) {
    case (.success(let x), .success(let y)): XCTAssertEqual(x, y, message, file: file, line: line)
    case (.failure(let x), .failure(let y)): XCTAssertEqual("\(x)", "\(y)", message, file: file, line: line)
    default: XCTFail("\(a) but \(b): \(message)", file: file, line: line)
    }
}
