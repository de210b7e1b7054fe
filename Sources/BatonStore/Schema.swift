import GRDB

/// The schema, as versioned migrations. A migration is never edited after it ships;
/// changes go into a new one ("v2", ...), and its result into `currentSQL`, which a new
/// file gets in one step (`createIfEmpty`).
public enum Schema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE workflows (
                    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order, LIST paging
                    id              TEXT NOT NULL UNIQUE,
                    name            TEXT NOT NULL,
                    spec            TEXT NOT NULL,                       -- canonical JSON, defaults filled
                    idempotency_key TEXT UNIQUE,
                    state           TEXT NOT NULL CHECK (state IN
                                    ('SUBMITTED','RUNNING','SUCCEEDED','FAILED','CANCELLED','STOPPED','EXPIRED')),
                    reason          TEXT,
                    current_block   INTEGER NOT NULL DEFAULT 0 CHECK (current_block >= 0),
                    submitted_at    INTEGER NOT NULL,
                    started_at      INTEGER,
                    finished_at     INTEGER,
                    expires_at      INTEGER,
                    last_event      INTEGER NOT NULL DEFAULT 0 CHECK (last_event >= 0)
                );
                CREATE INDEX workflows_by_state ON workflows (state, seq);
                CREATE INDEX workflows_by_name ON workflows (name, seq);

                CREATE TABLE jobs (
                    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
                    block       INTEGER NOT NULL CHECK (block >= 0),
                    idx         INTEGER NOT NULL CHECK (idx >= 0),
                    state       TEXT NOT NULL CHECK (state IN ('PENDING','RUNNING','SUCCEEDED','FAILED','CANCELLED')),
                    attempt     INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
                    output      TEXT,
                    error       TEXT,
                    started_at  INTEGER,
                    finished_at INTEGER,
                    retry_at    INTEGER,
                    PRIMARY KEY (workflow_id, block, idx)
                ) WITHOUT ROWID;

                CREATE TABLE events (
                    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
                    seq         INTEGER NOT NULL CHECK (seq >= 1),
                    at          INTEGER NOT NULL,
                    kind        TEXT NOT NULL,
                    data        TEXT NOT NULL,
                    PRIMARY KEY (workflow_id, seq)
                ) WITHOUT ROWID;
                """)
        }
        // v2: the same tables with the state CHECKs written as OR chains. SQLite codes
        // `x IN ('A', 'B', ...)` inside a CHECK as a fresh ephemeral b-tree on every
        // INSERT and UPDATE (OpenEphemeral: a zeroed 4 KiB page and one insert per
        // value); that was a tenth of the broker's instructions per job in the fan-out
        // benchmark. Tables are rebuilt as SQLite's ALTER TABLE documentation says
        // (new table, copy, drop, rename); GRDB runs migrations with foreign keys off
        // and checks them before the commit.
        m.registerMigration("v2") { db in
            try db.execute(sql: """
                CREATE TABLE workflows_v2 (
                    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
                    id              TEXT NOT NULL UNIQUE,
                    name            TEXT NOT NULL,
                    spec            TEXT NOT NULL,
                    idempotency_key TEXT UNIQUE,
                    state           TEXT NOT NULL CHECK (state = 'SUBMITTED' OR state = 'RUNNING'
                                    OR state = 'SUCCEEDED' OR state = 'FAILED' OR state = 'CANCELLED'
                                    OR state = 'STOPPED' OR state = 'EXPIRED'),
                    reason          TEXT,
                    current_block   INTEGER NOT NULL DEFAULT 0 CHECK (current_block >= 0),
                    submitted_at    INTEGER NOT NULL,
                    started_at      INTEGER,
                    finished_at     INTEGER,
                    expires_at      INTEGER,
                    last_event      INTEGER NOT NULL DEFAULT 0 CHECK (last_event >= 0)
                );
                INSERT INTO workflows_v2 (seq, id, name, spec, idempotency_key, state, reason, current_block,
                                          submitted_at, started_at, finished_at, expires_at, last_event)
                    SELECT seq, id, name, spec, idempotency_key, state, reason, current_block,
                           submitted_at, started_at, finished_at, expires_at, last_event FROM workflows;
                DROP TABLE workflows;
                ALTER TABLE workflows_v2 RENAME TO workflows;
                CREATE INDEX workflows_by_state ON workflows (state, seq);
                CREATE INDEX workflows_by_name ON workflows (name, seq);

                CREATE TABLE jobs_v2 (
                    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
                    block       INTEGER NOT NULL CHECK (block >= 0),
                    idx         INTEGER NOT NULL CHECK (idx >= 0),
                    state       TEXT NOT NULL CHECK (state = 'PENDING' OR state = 'RUNNING' OR state = 'SUCCEEDED'
                                OR state = 'FAILED' OR state = 'CANCELLED'),
                    attempt     INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
                    output      TEXT,
                    error       TEXT,
                    started_at  INTEGER,
                    finished_at INTEGER,
                    retry_at    INTEGER,
                    PRIMARY KEY (workflow_id, block, idx)
                ) WITHOUT ROWID;
                INSERT INTO jobs_v2 (workflow_id, block, idx, state, attempt, output, error, started_at, finished_at, retry_at)
                    SELECT workflow_id, block, idx, state, attempt, output, error, started_at, finished_at, retry_at FROM jobs;
                DROP TABLE jobs;
                ALTER TABLE jobs_v2 RENAME TO jobs;
                """)
        }
        // v3: the emergency stop. `stops` holds the names stopped (or "*"), so a stop
        // survives restarts; `jobs.stopped_attempts` counts the attempts a stop ended,
        // which do not count toward `max_attempts` (the attempt numbers stay used up, for
        // fencing). ADD COLUMN with a constant default rewrites no row.
        m.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE stops (
                    name   TEXT PRIMARY KEY NOT NULL CHECK (length(name) > 0),
                    reason TEXT NOT NULL CHECK (length(reason) > 0),
                    at     INTEGER NOT NULL
                ) WITHOUT ROWID;
                ALTER TABLE jobs ADD COLUMN stopped_attempts INTEGER NOT NULL DEFAULT 0 CHECK (stopped_attempts >= 0);
                """)
        }
        // v4: ownership (spec §3.6). The name of the key that submitted a workflow; NULL
        // for workflows stored in plain mode. LIST of one owner pages by (owner, seq).
        m.registerMigration("v4") { db in
            try db.execute(sql: """
                ALTER TABLE workflows ADD COLUMN owner TEXT CHECK (owner IS NULL OR length(owner) > 0);
                CREATE INDEX workflows_by_owner ON workflows (owner, seq);
                """)
        }
        // v5: retention. A partial index of finished workflows by when they finished,
        // so the committer finds the expired ones oldest first without a scan. Partial
        // (`finished_at IS NOT NULL`): a SUBMIT writes no entry, only the update that
        // finishes a workflow does. The schema version is also `PRAGMA user_version`, for
        // tools that read it without GRDB's table (`baton db check`).
        m.registerMigration("v5") { db in
            try db.execute(sql: """
                CREATE INDEX workflows_by_finish ON workflows (finished_at) WHERE finished_at IS NOT NULL;
                PRAGMA user_version = 5;
                """)
        }
        // v6: integer keys. `jobs` and `events` name their workflow by its `seq` (an
        // INTEGER, the workflows' rowid) instead of its 26-character TEXT id: every job and
        // event insert or update compared TEXT keys down its b-tree (about 6k instructions
        // more per event row, measured), and every workflow update found its row through
        // the id index instead of by rowid. `seq` loses AUTOINCREMENT: that wrote
        // `sqlite_sequence` on every SUBMIT, and its one promise (a number never used again
        // after the newest row is deleted) is not needed — LIST pages by id, and a
        // workflow's children are deleted with it. `workflows_by_owner` becomes partial:
        // plain mode stores no owner, and LIST by owner (`owner = ?`) still uses it.
        // Children of a workflow that is gone (only the broker's connection, which does not
        // enforce the foreign keys, could have left any; `baton db check` reports them)
        // have no seq to point to and are not copied.
        m.registerMigration("v6") { db in
            try db.execute(sql: """
                CREATE TABLE workflows_v6 (
                    seq             INTEGER PRIMARY KEY,
                    id              TEXT NOT NULL UNIQUE,
                    name            TEXT NOT NULL,
                    spec            TEXT NOT NULL,
                    idempotency_key TEXT UNIQUE,
                    state           TEXT NOT NULL CHECK (state = 'SUBMITTED' OR state = 'RUNNING'
                                    OR state = 'SUCCEEDED' OR state = 'FAILED' OR state = 'CANCELLED'
                                    OR state = 'STOPPED' OR state = 'EXPIRED'),
                    reason          TEXT,
                    current_block   INTEGER NOT NULL DEFAULT 0 CHECK (current_block >= 0),
                    submitted_at    INTEGER NOT NULL,
                    started_at      INTEGER,
                    finished_at     INTEGER,
                    expires_at      INTEGER,
                    last_event      INTEGER NOT NULL DEFAULT 0 CHECK (last_event >= 0),
                    owner           TEXT CHECK (owner IS NULL OR length(owner) > 0)
                );
                INSERT INTO workflows_v6 (seq, id, name, spec, idempotency_key, state, reason, current_block,
                                          submitted_at, started_at, finished_at, expires_at, last_event, owner)
                    SELECT seq, id, name, spec, idempotency_key, state, reason, current_block,
                           submitted_at, started_at, finished_at, expires_at, last_event, owner FROM workflows;

                CREATE TABLE jobs_v6 (
                    workflow         INTEGER NOT NULL REFERENCES workflows (seq) ON DELETE CASCADE,
                    block            INTEGER NOT NULL CHECK (block >= 0),
                    idx              INTEGER NOT NULL CHECK (idx >= 0),
                    state            TEXT NOT NULL CHECK (state = 'PENDING' OR state = 'RUNNING' OR state = 'SUCCEEDED'
                                     OR state = 'FAILED' OR state = 'CANCELLED'),
                    attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
                    output           TEXT,
                    error            TEXT,
                    started_at       INTEGER,
                    finished_at      INTEGER,
                    retry_at         INTEGER,
                    stopped_attempts INTEGER NOT NULL DEFAULT 0 CHECK (stopped_attempts >= 0),
                    PRIMARY KEY (workflow, block, idx)
                ) WITHOUT ROWID;
                INSERT INTO jobs_v6 (workflow, block, idx, state, attempt, output, error, started_at, finished_at,
                                     retry_at, stopped_attempts)
                    SELECT w.seq, j.block, j.idx, j.state, j.attempt, j.output, j.error, j.started_at, j.finished_at,
                           j.retry_at, j.stopped_attempts
                    FROM jobs j JOIN workflows w ON w.id = j.workflow_id;

                CREATE TABLE events_v6 (
                    workflow INTEGER NOT NULL REFERENCES workflows (seq) ON DELETE CASCADE,
                    seq      INTEGER NOT NULL CHECK (seq >= 1),
                    at       INTEGER NOT NULL,
                    kind     TEXT NOT NULL,
                    data     TEXT NOT NULL,
                    PRIMARY KEY (workflow, seq)
                ) WITHOUT ROWID;
                INSERT INTO events_v6 (workflow, seq, at, kind, data)
                    SELECT w.seq, e.seq, e.at, e.kind, e.data FROM events e JOIN workflows w ON w.id = e.workflow_id;

                DROP TABLE events;
                DROP TABLE jobs;
                DROP TABLE workflows;
                ALTER TABLE workflows_v6 RENAME TO workflows;
                ALTER TABLE jobs_v6 RENAME TO jobs;
                ALTER TABLE events_v6 RENAME TO events;
                CREATE INDEX workflows_by_state ON workflows (state, seq);
                CREATE INDEX workflows_by_name ON workflows (name, seq);
                CREATE INDEX workflows_by_owner ON workflows (owner, seq) WHERE owner IS NOT NULL;
                CREATE INDEX workflows_by_finish ON workflows (finished_at) WHERE finished_at IS NOT NULL;
                PRAGMA user_version = 6;
                """)
        }
        // v7: folded events. The events one commit writes for one workflow share one row
        // (`FoldedEvents`): `seq` and `last` are its first and last event, `data` a JSON
        // array of `[at, "kind", {fields}]`: fewer statements and b-tree inserts (a
        // fan-out job wrote two event rows, a one-job workflow seven). Each v6 event
        // becomes a row of one; a `data` that is not JSON (none a broker wrote) is kept
        // as text, which the reader reports as corrupt, as it did before.
        m.registerMigration("v7") { db in
            try db.execute(sql: """
                CREATE TABLE events_v7 (
                    workflow INTEGER NOT NULL REFERENCES workflows (seq) ON DELETE CASCADE,
                    seq      INTEGER NOT NULL CHECK (seq >= 1),
                    last     INTEGER NOT NULL CHECK (last >= seq),
                    data     TEXT NOT NULL,
                    PRIMARY KEY (workflow, seq)
                ) WITHOUT ROWID;
                INSERT INTO events_v7 (workflow, seq, last, data)
                    SELECT workflow, seq, seq,
                           json_array(json_array(at, kind, CASE WHEN json_valid(data) THEN json(data) ELSE data END))
                    FROM events;
                DROP TABLE events;
                ALTER TABLE events_v7 RENAME TO events;
                PRAGMA user_version = 7;
                """)
        }
        // v8: a workflow's first event has no row (FoldedEvents): `workflow.submitted`
        // (seq 1, its one field the name) is made again from the workflow's `name` and
        // `submitted_at` when read. Every v7 broker wrote it alone in its row (SUBMIT's
        // commit holds nothing else of the workflow); those rows go when they say exactly
        // what the workflow row says. Any other row holding seq 1 stays, and is read as
        // stored (nothing is implied before a row that holds seq 1). No table changes;
        // the version is bumped so that `baton db check` of an older baton reports the
        // file as newer than it understands (an older broker, which had no check, would
        // serve such logs without their first event; from this version on a broker
        // refuses a file of a newer schema: `Store.refuseNewerSchema`).
        m.registerMigration("v8") { db in
            try db.execute(sql: """
                DELETE FROM events
                WHERE seq = 1 AND last = 1 AND json_valid(data) AND json_array_length(data) = 1
                  AND json_extract(data, '$[0][1]') = 'workflow.submitted'
                  AND json_extract(data, '$[0][0]') = (SELECT submitted_at FROM workflows w WHERE w.seq = events.workflow)
                  AND json_extract(data, '$[0][2]') = (SELECT json_object('name', name) FROM workflows w WHERE w.seq = events.workflow);
                PRAGMA user_version = 8;
                """)
        }
        // v9: a dispatch and a success write no job row (`Engine.dispatch`,
        // `Engine.succeed`): their events say what changed, and `events.outputs` holds
        // the outputs of the `job.succeeded` events of its row (`FoldedEvents.writeOutputs`).
        // `Store.record` reads a job as its newest event says when that is its dispatch or
        // its success, and as its row says otherwise. A block's start no longer rewrites
        // the workflow's row (which holds the spec) either: an unfinished workflow's
        // `current_block` is the newest `block.started`'s when that is later. Rows a v8
        // broker wrote say the same as the events, so nothing is rewritten. A v8 broker
        // reading a v9 file would take a running job for the earlier attempt its row holds
        // (and could run it once more than `max_attempts`) and a succeeded one for
        // pending; it refuses a file of a newer schema (`Store.refuseNewerSchema`).
        m.registerMigration("v9") { db in
            try db.execute(sql: """
                ALTER TABLE events ADD COLUMN outputs TEXT;
                PRAGMA user_version = 9;
                """)
        }
        return m
    }

    /// The version the migrations above bring a database to.
    public static let currentVersion = 9

    /// Creates the current schema in one transaction when the database has no tables
    /// yet, and records every migration as applied, so that `migrator` has nothing left
    /// to do; returns whether it did. A file with any table is left to the migrations.
    ///
    /// Why: running v1...v9 on an empty file builds tables only to copy and drop them
    /// (v2 and v6 rebuild all three) and parses the schema again after each DDL
    /// statement: ~37M instructions at every new store in `scripts/profile`, where this
    /// is a few million. Every new deployment, test and bench broker starts so.
    ///
    /// Invariant: `currentSQL` is the schema the migrations leave, as SQLite stores it
    /// (`sqlite_master.sql`, byte for byte, which `SchemaMigrationTests` checks), less
    /// `sqlite_sequence`, the empty table v1's AUTOINCREMENT left behind. A new
    /// migration changes both: it is appended to `migrator` for old files, and
    /// `currentSQL` takes its result.
    @discardableResult
    static func createIfEmpty(_ queue: DatabaseQueue) throws -> Bool {
        try queue.inDatabase { db in
            // A read first: a file with tables (every open but the first) takes no write
            // lock here, so opening beside a busy writer does not wait for it.
            func isEmpty() throws -> Bool { try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") == 0 }
            guard try isEmpty() else { return false }
            var created = false
            // IMMEDIATE, and empty again inside it: a second process opening the same new
            // file waits here, then finds the tables and leaves them to the migrator.
            try db.inTransaction(.immediate) {
                guard try isEmpty() else { return .commit }
                try db.execute(sql: currentSQL)
                try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                for identifier in migrationIdentifiers {
                    try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [identifier])
                }
                try db.execute(sql: "PRAGMA user_version = \(currentVersion)")
                created = true
                return .commit
            }
            return created
        }
    }

    /// The identifiers `migrator` registers, in order.
    static let migrationIdentifiers = (1...currentVersion).map { "v\($0)" }

    /// The current schema, as the migrations leave it (see `createIfEmpty`). It repeats
    /// the tables' text of v6 and v3 on purpose: a shipped migration is never edited or
    /// shared, and `SchemaMigrationTests` holds the two paths to the same result.
    static let currentSQL = """
        CREATE TABLE "workflows" (
            seq             INTEGER PRIMARY KEY,
            id              TEXT NOT NULL UNIQUE,
            name            TEXT NOT NULL,
            spec            TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            state           TEXT NOT NULL CHECK (state = 'SUBMITTED' OR state = 'RUNNING'
                            OR state = 'SUCCEEDED' OR state = 'FAILED' OR state = 'CANCELLED'
                            OR state = 'STOPPED' OR state = 'EXPIRED'),
            reason          TEXT,
            current_block   INTEGER NOT NULL DEFAULT 0 CHECK (current_block >= 0),
            submitted_at    INTEGER NOT NULL,
            started_at      INTEGER,
            finished_at     INTEGER,
            expires_at      INTEGER,
            last_event      INTEGER NOT NULL DEFAULT 0 CHECK (last_event >= 0),
            owner           TEXT CHECK (owner IS NULL OR length(owner) > 0)
        );
        CREATE INDEX workflows_by_state ON workflows (state, seq);
        CREATE INDEX workflows_by_name ON workflows (name, seq);
        CREATE INDEX workflows_by_owner ON workflows (owner, seq) WHERE owner IS NOT NULL;
        CREATE INDEX workflows_by_finish ON workflows (finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE "jobs" (
            workflow         INTEGER NOT NULL REFERENCES workflows (seq) ON DELETE CASCADE,
            block            INTEGER NOT NULL CHECK (block >= 0),
            idx              INTEGER NOT NULL CHECK (idx >= 0),
            state            TEXT NOT NULL CHECK (state = 'PENDING' OR state = 'RUNNING' OR state = 'SUCCEEDED'
                             OR state = 'FAILED' OR state = 'CANCELLED'),
            attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
            output           TEXT,
            error            TEXT,
            started_at       INTEGER,
            finished_at      INTEGER,
            retry_at         INTEGER,
            stopped_attempts INTEGER NOT NULL DEFAULT 0 CHECK (stopped_attempts >= 0),
            PRIMARY KEY (workflow, block, idx)
        ) WITHOUT ROWID;
        CREATE TABLE "events" (
            workflow INTEGER NOT NULL REFERENCES workflows (seq) ON DELETE CASCADE,
            seq      INTEGER NOT NULL CHECK (seq >= 1),
            last     INTEGER NOT NULL CHECK (last >= seq),
            data     TEXT NOT NULL, outputs TEXT,
            PRIMARY KEY (workflow, seq)
        ) WITHOUT ROWID;
        CREATE TABLE stops (
            name   TEXT PRIMARY KEY NOT NULL CHECK (length(name) > 0),
            reason TEXT NOT NULL CHECK (length(reason) > 0),
            at     INTEGER NOT NULL
        ) WITHOUT ROWID;
        """
}
