public import Foundation
import GRDB

extension Catalog {
    // MARK: Lock

    /// Takes the run lock: one backup at a time per catalog. Read-only commands do not need it.
    ///
    /// The lock is `flock(LOCK_EX|LOCK_NB)` on `<path>.lock`, which records the holder's pid, host, command and
    /// start time for the message a second process gets.
    /// - Parameter command: what the holder is doing (`backup`), for that message.
    /// - Throws: `ArchiverError(.locked)` naming the holder when another process (or another `Catalog` on the
    ///   same file) holds it.
    public func acquireRunLock(command: String) throws -> CatalogLock {
        try CatalogLock.acquire(path: path + ".lock", command: command, flag: lockFlag)
    }

    // MARK: Repositories

    /// Records a repository (a target, identified by the UUID in its marker), or updates its spec and last-seen
    /// time. Each repository has its own contents: deduplication never assumes one target holds another's objects.
    public func registerRepository(id: String, spec: String) throws {
        guard !id.isEmpty else { throw ArchiverError(.internalError, "a repository id must not be empty") }
        try write("recording repository \(id)") { db in
            let now = Self.now()
            try db.execute(
                sql: """
                    INSERT INTO repositories (id, spec, created_at, last_seen_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, last_seen_at = excluded.last_seen_at
                    """,
                arguments: [id, spec, now, now])
        }
    }

    /// The repositories this catalog knows, with the spec each was last seen at, oldest first.
    public func repositories() throws -> [(id: String, spec: String)] {
        try read("listing repositories") { db in
            try Row.fetchAll(db, sql: "SELECT id, spec FROM repositories ORDER BY last_seen_at, id").map {
                (id: $0["id"] as String, spec: $0["spec"] as String)
            }
        }
    }

    // MARK: Runs

    /// Starts a run and returns its id. Needs the run lock held through this catalog.
    ///
    /// Runs of this catalog still marked `running` are leftovers of a process that died (the lock proves no
    /// other run is live) and are marked `interrupted` first.
    /// - Throws: `ArchiverError(.locked)` when the lock is not held; `.catalog` for an unknown repository.
    public func beginRun(repositoryID: String, dryRun: Bool) throws -> Int64 {
        guard lockFlag.isHeld else {
            throw ArchiverError(
                .locked, "a run needs the catalog lock; take it with acquireRunLock first", subject: path)
        }
        return try write("starting a run") { db in
            guard
                try Bool.fetchOne(db, sql: "SELECT 1 FROM repositories WHERE id = ?", arguments: [repositoryID])
                    ?? false
            else {
                throw ArchiverError(
                    .catalog, "repository \(repositoryID) is not registered in the catalog", subject: path)
            }
            try db.execute(sql: "UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            try db.execute(
                sql: "INSERT INTO runs (repository_id, started_at, status, dry_run) VALUES (?, ?, 'running', ?)",
                arguments: [repositoryID, Self.now(), dryRun])
            return db.lastInsertedRowID
        }
    }

    /// Ends a run with its status and counts.
    ///
    /// When a real run ends `completed` or `partial` every source was walked, so a failure streak the run did not
    /// extend belongs to a path that no longer exists (or is no longer backed up) and is dropped.
    /// - Throws: `ArchiverError(.internalError)` when the run is not running or `status` is `.running`.
    public func finishRun(_ id: Int64, status: RunStatus, counts: RunCounts) throws {
        guard status != .running else {
            throw ArchiverError(.internalError, "finishRun needs a final status, not 'running'")
        }
        try write("finishing run \(id)") { db in
            let run = try requireRunningRun(db, id)
            try db.execute(
                sql: """
                    UPDATE runs SET status = ?, finished_at = ?, files_seen = ?, stored = ?, unchanged = ?,
                        deduplicated = ?, failed = ?, bytes_read = ?, bytes_stored = ?
                    WHERE id = ?
                    """,
                arguments: [
                    status.rawValue, Self.now(), counts.filesSeen, counts.stored, counts.unchanged,
                    counts.deduplicated, counts.failed, counts.bytesRead, counts.bytesStored, id,
                ])
            if !run.dryRun, status == .completed || status == .partial {
                try db.execute(
                    sql: "DELETE FROM failure_streaks WHERE repository_id = ? AND last_run < ?",
                    arguments: [run.repositoryID, id])
            }
        }
    }

    /// One run, or nil.
    public func run(_ id: Int64) throws -> RunRecord? {
        try read("reading run \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT \(CatalogColumns.run) FROM runs WHERE id = ?", arguments: [id])
                .map(RunRecord.init(row:))
        }
    }

    /// The newest run that walked every source (`completed`, or `partial`: some files failed and kept their earlier
    /// versions) and was not a dry run, optionally the newest that finished at or before a time (restore "as of").
    public func lastCompletedRun(repositoryID: String, finishedAtOrBefore: Date? = nil) throws -> RunRecord? {
        try read("finding the last completed run") { db in
            let limit = finishedAtOrBefore.map(Self.nanoseconds) ?? Int64.max
            return try Row.fetchOne(
                db,
                sql: """
                    SELECT \(CatalogColumns.run) FROM runs
                    WHERE repository_id = ? AND status IN ('completed', 'partial') AND dry_run = 0 AND finished_at <= ?
                    ORDER BY id DESC LIMIT 1
                    """,
                arguments: [repositoryID, limit]
            ).map(RunRecord.init(row:))
        }
    }

    /// The newest runs of a repository, newest first.
    public func runs(repositoryID: String, limit: Int) throws -> [RunRecord] {
        try read("listing runs") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(CatalogColumns.run) FROM runs WHERE repository_id = ? ORDER BY id DESC LIMIT ?",
                arguments: [repositoryID, max(0, limit)]
            ).map(RunRecord.init(row:))
        }
    }

    // MARK: Checks used by the writers

    struct RunState {
        var repositoryID: String
        var dryRun: Bool
    }

    /// The run, which must exist and still be running: nothing may be added to a finished run's history.
    func requireRunningRun(_ db: Database, _ id: Int64) throws -> RunState {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT repository_id, status, dry_run FROM runs WHERE id = ?", arguments: [id])
        else {
            throw ArchiverError(.internalError, "run \(id) does not exist", subject: path)
        }
        let status: RunStatus = try row.enumValue("status")
        guard status == .running else {
            throw ArchiverError(
                .internalError, "run \(id) is \(status.rawValue); it cannot record anything more", subject: path)
        }
        return RunState(repositoryID: try row.string("repository_id"), dryRun: try row.bool("dry_run"))
    }

    /// The run, which must be running, belong to `repositoryID`, and not be a dry run (dry runs record no
    /// versions or contents: they would claim stores that never happened).
    func requireRecordingRun(_ db: Database, _ id: Int64, repositoryID: String) throws {
        let run = try requireRunningRun(db, id)
        guard run.repositoryID == repositoryID else {
            throw ArchiverError(
                .internalError, "run \(id) belongs to repository \(run.repositoryID), not \(repositoryID)",
                subject: path)
        }
        guard !run.dryRun else {
            throw ArchiverError(
                .internalError, "run \(id) is a dry run; it records no versions or contents", subject: path)
        }
    }
}
