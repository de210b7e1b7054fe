import ArgumentParser
import BatonClient
import BatonWire
import Foundation

/// Runs a client call, turning client errors into one clear line and exit code 2;
/// `explain` may add a line on what the error leaves behind.
func withClient<T>(_ options: ClientOptions, explain: (ClientError) -> String? = { _ in nil },
                   _ body: (BatonClient) throws -> T) throws -> T {
    let curve = try curveKeys(server: options.curveServer, secret: options.curveSecret).map {
        CurveClientKeys(serverKey: $0.serverKey, publicKey: $0.publicKey, secretKey: $0.secretKey)
    }
    do {
        let client = try BatonClient(endpoint: options.broker, timeoutMs: options.timeoutMs, attempts: options.retries, curve: curve)
        defer { client.close() }
        return try body(client)
    } catch let error as ClientError {
        printError("error: \(describe(error, endpoint: options.broker))")
        if let more = explain(error) { printError(more) }
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

/// Prints one JSON value on one line.
func printJSON(_ value: JSONValue) {
    print(JSONWriter.string(value))
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Reads and validates a workflow file, naming the bad field on error.
func loadWorkflow(_ path: String) throws -> WorkflowSpec {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw InputError("FILE: cannot read \(path)")
    }
    do {
        var json = try JSONParser.parse(Array(data))
        // A file may hold the workflow itself or a whole SUBMIT body {"workflow": ...}.
        if let inner = json["workflow"] { json = inner }
        return try WorkflowSpec.parse(json)
    } catch let e as JSONParser.Failure {
        throw InputError("\(path): \(e)")
    } catch let e as WireError {
        throw InputError("\(path): \(e.message)")
    }
}

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "SUBMIT a workflow file; print its ID. Nothing runs until `baton exec ID`.")

    @Argument(help: "Workflow file (JSON).") var file: String
    @Option(help: "Idempotency key: the same key and spec return the same ID.") var key: String?
    @Flag(help: "Print the ID reply as JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let spec = try loadWorkflow(file)
        let s = try withClient(client) { try $0.submit(spec, idempotencyKey: key) }
        if json {
            printJSON(["id": .string(s.id), "state": .string(s.state.rawValue), "duplicate": .bool(s.duplicate)])
            return
        }
        print(s.id)
        if s.duplicate { printError("note: key already used; this is the existing workflow (\(s.state.rawValue))") }
    }
}

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "EXEC a submitted workflow; print its state.",
        discussion: "Exit 0 when the broker took the EXEC, also for a workflow that had already finished (EXEC then changes nothing, and a note says so). `baton status ID --expect-success` checks the outcome.")
    @Argument(help: "Workflow ID.") var id: String
    @Flag(help: "Print the STATUS reply as JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let status = try withClient(client) { try $0.exec(id) }
        if json { return printJSON(status.json) }
        print("\(status.id) \(Style.state(status.state.rawValue))")
        if status.state.isFinal {
            printError("note: \(status.id) had already finished \(status.state.rawValue); EXEC changed nothing")
        }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show a workflow's state, blocks and jobs.",
        discussion: """
            Exit 0 whatever the workflow's state (the state is printed), unless --expect-success: then 1 \
            unless it SUCCEEDED. Blocks of more than \(StatusRenderer.summariseAbove) jobs are summarised \
            (counts per state, then the jobs that need a look); --all lists every job.
            """)
    @Argument(help: "Workflow ID.") var id: String
    @Flag(help: "Print the status as JSON, each job with its attempts (worker, times, outcome).") var json = false
    @Flag(help: "List every job, also in big blocks.") var all = false
    @Flag(help: "Exit 1 unless the workflow SUCCEEDED.") var expectSuccess = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let (status, history) = try withClient(client) { c in
            let status = try c.status(id)
            return (status, json ? try AttemptHistory.read(id, from: c) : nil)
        }
        if let history {
            printJSON(history.annotate(status))
        } else {
            print(StatusRenderer.render(status, all: all))
        }
        if expectSuccess && status.state != .succeeded { throw ExitStatus.unsuccessful.exitCode }
    }
}

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "CANCEL a workflow; print its state.")
    @Argument(help: "Workflow ID.") var id: String
    @Flag(help: "Print the STATUS reply as JSON.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        let status = try withClient(client) { try $0.cancel(id) }
        if json { return printJSON(status.json) }
        print("\(status.id) \(Style.state(status.state.rawValue))")
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List recent workflows, newest first.")
    @Option(help: "Only this state: \(WorkflowState.allCases.map(\.rawValue).joined(separator: ", ")).") var state: String?
    @Option(help: "Only workflows with this name.") var name: String?
    @Option(help: "Rows per page (1-1000).") var limit = 50
    @Option(help: "Paging cursor: the `next` ID printed by the previous page.") var before: String?
    @Option(help: "Only workflows of this owner (a key's name; admin keys only: a client key always sees its own).") var owner: String?
    @Flag(help: "Print the LIST reply as JSON: {\"workflows\": [...], \"next\"?}.") var json = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let state, WorkflowState(rawValue: state.uppercased()) == nil {
            throw ValidationError("--state: unknown state \"\(state)\"; the states are \(WorkflowState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...ListRequest.maxLimit).contains(limit) else { throw ValidationError("--limit must be between 1 and \(ListRequest.maxLimit)") }
    }

    func run() throws {
        var query = ListRequest(name: name, limit: limit, before: before, owner: owner)
        query.state = state.flatMap { WorkflowState(rawValue: $0.uppercased()) }
        let page = try withClient(client) { try $0.list(query) }
        if json {
            var o: [String: JSONValue] = ["workflows": .array(page.workflows.map(\.json))]
            if let next = page.next { o["next"] = .string(next) }
            return printJSON(.object(o))
        }
        print(Self.row("ID", "STATE", "SUBMITTED", "NAME", "OWNER"))
        for w in page.workflows {
            print(Self.row(w.id, w.state.rawValue, Style.time(w.submittedAt), Style.cut(w.name, 60), w.owner ?? "-"))
        }
        if let next = page.next { print("next page: baton list --before \(next)") }
    }

    /// Fixed columns (IDs are 26 characters, states at most 9, times 24), so the rows
    /// line up and `awk`/`cut -c` work; the state is padded before it is coloured.
    static func row(_ id: String, _ state: String, _ submitted: String, _ name: String, _ owner: String) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        let coloured = state == "STATE" ? pad(state, 9) : Style.state(state) + String(repeating: " ", count: max(0, 9 - state.count))
        return "\(pad(id, 26))  \(coloured)  \(pad(submitted, 24))  \(pad(name, 20))  \(owner)"
    }
}

struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "PING the broker.")
    @Flag(help: "Print {\"pong\": true, \"broker\": ENDPOINT}.") var json = false
    @OptionGroup var client: ClientOptions

    func run() throws {
        try withClient(client) { try $0.ping() }
        if json { return printJSON(["pong": true, "broker": .string(client.broker)]) }
        print("PONG from \(client.broker)")
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Follow a workflow's events live until it ends.",
        discussion: """
            Ctrl-C stops watching, not the workflow. Exit 0 when the workflow SUCCEEDED, 1 when it ended \
            otherwise or is left STOPPED.

            \(ExitStatus.table)
            """)
    @Argument(help: "Workflow ID.") var id: String
    @Option(help: "Start after this event sequence number (0: from the start).") var after: Int64 = 0
    @OptionGroup var output: FollowOutput
    @OptionGroup var client: ClientOptions

    func run() throws {
        InterruptNotice.install("stopped watching; workflow \(id) keeps running at the broker; `baton watch \(id)` re-attaches")
        let final = try withClient(client) { c in
            let snapshot = try c.status(id)
            var progress = ProgressPrinter(names: JobNames(status: snapshot), verbose: output.verbose)
            if after > 0 { progress.seed(snapshot) }
            let final = try c.follow(id, after: after, onEvent: { e in
                if output.json {
                    printJSON(["type": "event", "id": .string(id), "event": e.json])
                } else {
                    for line in progress.lines(e) { print(line) }
                }
            }, onHeld: { reasons in
                if output.json {
                    printJSON(["type": "held", "id": .string(id), "reasons": .array(reasons.map(JSONValue.string))])
                } else {
                    print(Style.warning("\(id): no progress for \(BatonClient.quietBeforeAskingMs / 1000) s; jobs wait on: \(reasons.joined(separator: "; "))"))
                }
            })
            if output.json { printJSON(["type": "final", "status": final.json]) } else { print(StatusRenderer.render(final)) }
            return final
        }
        throw (final.state == .succeeded ? ExitStatus.success : .unsuccessful).exitCode
    }
}
