import ArgumentParser
import BatonClient
import BatonWire
import Foundation

/// Runs a client call, turning client errors into one clear line and exit code 2.
func withClient<T>(_ options: ClientOptions, _ body: (BatonClient) throws -> T) throws -> T {
    let curve = try curveKeys(server: options.curveServer, secret: options.curveSecret).map {
        CurveClientKeys(serverKey: $0.serverKey, publicKey: $0.publicKey, secretKey: $0.secretKey)
    }
    do {
        let client = try BatonClient(endpoint: options.broker, timeoutMs: options.timeoutMs, attempts: options.retries, curve: curve)
        defer { client.close() }
        return try body(client)
    } catch let error as ClientError {
        printError("error: \(describe(error, endpoint: options.broker))")
        throw ExitStatus.broker.exitCode
    }
}

/// A client error for a person: a broker that does not answer is named, with what to check.
func describe(_ error: ClientError, endpoint: String) -> String {
    switch error {
    case .timeout(let command, let attempts, let ms):
        "no reply from the broker at \(endpoint) to \(command) (\(attempts) attempt(s) of \(ms) ms); is it running there? (--broker or BATON_BROKER name it)"
    case .remote(let e):
        "the broker refused: \(e.code.rawValue): \(e.message)"
    default:
        "\(error) (broker \(endpoint))"
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Reads and validates a workflow file, naming the bad field on error.
func loadWorkflow(_ path: String) throws -> WorkflowSpec {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("FILE: cannot read \(path)")
    }
    do {
        var json = try JSONParser.parse(Array(data))
        // A file may hold the workflow itself or a whole SUBMIT body {"workflow": ...}.
        if let inner = json["workflow"] { json = inner }
        return try WorkflowSpec.parse(json)
    } catch let e as JSONParser.Failure {
        throw ValidationError("\(path): \(e)")
    } catch let e as WireError {
        throw ValidationError("\(path): \(e.message)")
    }
}

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "SUBMIT a workflow file; print its ID. Nothing runs until `baton exec ID`.")

    @Argument(help: "Workflow file (JSON).") var file: String
    @Option(help: "Idempotency key: the same key and spec return the same ID.") var key: String?
    @OptionGroup var client: ClientOptions

    func run() throws {
        let spec = try loadWorkflow(file)
        let s = try withClient(client) { try $0.submit(spec, idempotencyKey: key) }
        print(s.id)
        if s.duplicate { printError("note: key already used; this is the existing workflow (\(s.state.rawValue))") }
    }
}

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "EXEC a submitted workflow.")
    @Argument(help: "Workflow ID.") var id: String
    @OptionGroup var client: ClientOptions

    func run() throws {
        let status = try withClient(client) { try $0.exec(id) }
        print("\(status.id) \(status.state.rawValue)")
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a workflow's state, blocks and jobs.")
    @Argument(help: "Workflow ID.") var id: String
    @Flag(help: "Print the STATUS body as JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let status = try withClient(client) { try $0.status(id) }
        if json {
            print(JSONWriter.string(status.json))
        } else {
            print(StatusPrinter.render(status))
        }
    }
}

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "CANCEL a workflow.")
    @Argument(help: "Workflow ID.") var id: String
    @OptionGroup var client: ClientOptions

    func run() throws {
        let status = try withClient(client) { try $0.cancel(id) }
        print("\(status.id) \(status.state.rawValue)")
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recent workflows, newest first.")
    @Option(help: "Only this state (SUBMITTED, RUNNING, SUCCEEDED, ...).") var state: String?
    @Option(help: "Only workflows with this name.") var name: String?
    @Option(help: "Rows per page (1-1000).") var limit = 50
    @Option(help: "Paging cursor: the `next` ID printed by the previous page.") var before: String?
    @Option(help: "Only workflows of this owner (a key's name; admin keys only: a client key always sees its own).") var owner: String?
    @OptionGroup var client: ClientOptions

    func run() throws {
        var query = ListRequest(name: name, limit: limit, before: before, owner: owner)
        if let state {
            guard let s = WorkflowState(rawValue: state.uppercased()) else {
                throw ValidationError("--state: unknown state \"\(state)\"")
            }
            query.state = s
        }
        guard (1...ListRequest.maxLimit).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        let page = try withClient(client) { try $0.list(query) }
        for w in page.workflows {
            let state = w.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            print("\(w.id)  \(state)  \(Timestamp.format(ms: w.submittedAt))  \(w.name)" + (w.owner.map { "  (\($0))" } ?? ""))
        }
        if let next = page.next { print("next page: baton list --before \(next)") }
    }
}

struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "PING the broker.")
    @OptionGroup var client: ClientOptions

    func run() throws {
        try withClient(client) { try $0.ping() }
        print("PONG from \(client.broker)")
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Follow a workflow's events live until it ends.")
    @Argument(help: "Workflow ID.") var id: String
    @Option(help: "Start after this event sequence number (0: from the start).") var after: Int64 = 0
    @OptionGroup var client: ClientOptions

    func run() throws {
        let final = try withClient(client) { c in
            var progress = ProgressLines(snapshot: try? c.status(id))
            let final = try c.watch(id, after: after) { print(progress.line($0)) }
            print(StatusPrinter.render(final))
            return final
        }
        throw ExitCode(final.state == .succeeded ? 0 : 1)
    }
}
