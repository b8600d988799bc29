import Foundation
import GRDB

extension Catalog {
    // MARK: Change detection

    /// The current versions in one folder of a source, ordered by name bytes: what change detection compares a
    /// directory listing with. One indexed query per folder.
    /// - Parameters:
    ///   - repositoryID: the repository.
    ///   - source: the source's remote prefix.
    ///   - dir: the folder's path relative to the source root, bytes; empty for the root.
    public func currentEntries(repositoryID: String, source: String, dir: [UInt8]) throws -> [CatalogEntry] {
        try read("listing \(source)/\(BytePath.display(dir))") { db in
            // Once per folder in every run: a cached statement skips compiling (and authorizing) it each time.
            // A cursor decodes each row in place (fetchAll would copy every row first).
            try Array(Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                    SELECT v.id, v.name, v.kind, v.size, v.mtime_ns, v.ctime_ns, v.inode, v.mode, v.uid, v.gid,
                        v.link_target, v.content_id,
                        EXISTS (SELECT 1 FROM objects o WHERE o.content_id = v.content_id AND o.damaged_at IS NOT NULL)
                            AS damaged,
                        (SELECT r.started_at FROM runs r WHERE r.id = COALESCE(v.confirmed_run, v.first_run))
                            AS run_started
                    FROM versions v
                    WHERE v.repository_id = ? AND v.source = ? AND v.dir = ? AND v.end_run IS NULL
                    ORDER BY v.name
                    """),
                arguments: [repositoryID, source, Data(dir)]
            ).map { row in
                // By position, in the SELECT's order: this runs for every folder of every run.
                CatalogEntry(
                    name: try row.bytes(1), kind: try row.enumValue(2), size: try row.int64(3),
                    mtimeNs: try row.int64(4), ctimeNs: try row.int64(5),
                    inode: UInt64(bitPattern: try row.int64(6)), mode: try row.integer(7),
                    uid: try row.integer(8), gid: try row.integer(9),
                    linkTarget: try row.optionalBytes(10), versionID: try row.int64(0),
                    contentID: try row.optionalInt64(11), contentDamaged: try row.bool(12),
                    recordedRunStartNs: try row.optionalInt64(13))
            })
        }
    }

    // MARK: Recording

    /// Records `entry` as the current version of its path, in one transaction that commits at once.
    ///
    /// The previous current version of the same (source, dir, name) ends at `runID` (or is dropped if `runID`
    /// itself recorded it, since it was never part of any run's state); if it was a folder and the entry is not,
    /// everything below it ends too, because the engine will never walk into it again. The path's failure streak
    /// is cleared.
    ///
    /// Checks: the run is running, not a dry run, and belongs to `repositoryID`; names are valid byte components;
    /// a file has a content of its repository with exactly its size, unless it is empty; folders and symlinks have
    /// no content; a symlink has a target.
    /// - Returns: the new version's id.
    @discardableResult
    public func recordVersion(runID: Int64, repositoryID: String, source: String, entry: NewVersion) throws -> Int64 {
        try Self.validate(entry, source: source)
        return try write("recording \(source)/\(entry.display)") { db in
            try requireRecordingRun(db, runID, repositoryID: repositoryID)
            return try insertVersion(db, runID: runID, repositoryID: repositoryID, source: source, entry: entry)
        }
    }

    /// Inserts a validated version inside the caller's transaction, ending the path's previous one (and its subtree
    /// when a folder became something else) and clearing its failure streak; returns the new version's id.
    /// Shared by `recordVersion` (one entry) and `recordStoredFiles` (a batch of stored files).
    func insertVersion(_ db: Database, runID: Int64, repositoryID: String, source: String, entry: NewVersion) throws
        -> Int64
    {
        if let contentID = entry.contentID {
            try checkContent(db, contentID, repositoryID: repositoryID, size: entry.size, display: entry.display)
        }
        let key: [(any DatabaseValueConvertible)?] = [repositoryID, source, Data(entry.dir), Data(entry.name)]
        // Once per stored file: cached statements skip compiling (and authorizing) them each time.
        if let previous = try Row.fetchOne(
            db.cachedStatement(
                sql: """
                SELECT id, kind FROM versions
                WHERE repository_id = ? AND source = ? AND dir = ? AND name = ? AND end_run IS NULL
                """),
            arguments: StatementArguments(key))
        {
            try endCurrent(db, runID: runID, where: "id = ?", [try previous.int64("id")])
            let previousKind: EntryKind = try previous.enumValue("kind")
            if previousKind == .dir, entry.kind != .dir {
                try endSubtree(
                    db, runID: runID, repositoryID: repositoryID, source: source,
                    path: BytePath.join(entry.dir, entry.name))
            }
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO versions (repository_id, source, dir, name, display, kind, size, mtime_ns, ctime_ns,
                    inode, mode, uid, gid, link_target, content_id, first_run)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                repositoryID, source, Data(entry.dir), Data(entry.name), entry.display, entry.kind.rawValue,
                entry.size, entry.mtimeNs, entry.ctimeNs, Int64(bitPattern: entry.inode), Int64(entry.mode),
                Int64(entry.uid), Int64(entry.gid), entry.linkTarget.map { Data($0) }, entry.contentID, runID,
            ])
        let id = db.lastInsertedRowID
        try db.cachedStatement(
            sql: "DELETE FROM failure_streaks WHERE repository_id = ? AND source = ? AND dir = ? AND name = ?"
        ).execute(arguments: StatementArguments(key))
        return id
    }

    /// Records finished files in one transaction: for each, its content (when new), its version and the end of
    /// its pending uploads. Call it only after the backend confirmed every object the records name.
    ///
    /// Each record is checked as `recordContent` and `recordVersion` check theirs; a record the catalog refuses
    /// (an engine bug, say a content of the wrong size) is rolled back alone and its refusal returned in its place,
    /// while the others commit. Any other failure (disk full, a damaged catalog) records nothing and is thrown.
    /// - Parameters:
    ///   - runID: the running run that stored them.
    ///   - repositoryID: the repository the objects are in.
    ///   - records: the files, in the order their rows should be written.
    /// - Returns: per record, in order, the content id (nil for an empty file or a confirmation) or the refusal.
    /// - Throws: `ArchiverError(.catalog)` and friends when the transaction fails as a whole.
    public func recordStoredFiles(runID: Int64, repositoryID: String, _ records: [FileRecord]) throws
        -> [Result<Int64?, ArchiverError>]
    {
        // What can be checked without the database is checked before the write lock is taken.
        let prechecked: [ArchiverError?] = records.map { record in
            guard case .stored(let source, let version, let content, _) = record else { return nil }
            do {
                if case .new(let new, let objects) = content { try Self.validate(new, objects: objects) }
                var checked = version
                // A placeholder id: the real one exists only inside the transaction.
                if case .empty = content { checked.contentID = nil } else { checked.contentID = 0 }
                try Self.validate(checked, source: source)
                return nil
            } catch {
                return Self.mapError(error, "recording \(source)/\(version.display)", path: path)
            }
        }
        var erasedPlans = false
        let results = try write("recording \(records.count) stored files") { db in
            try requireRecordingRun(db, runID, repositoryID: repositoryID)
            var results: [Result<Int64?, ArchiverError>] = []
            results.reserveCapacity(records.count)
            for (record, refusal) in zip(records, prechecked) {
                if let refusal {
                    results.append(.failure(refusal))
                    continue
                }
                var contentID: Int64?
                do {
                    // A savepoint per file: a refused file leaves no half of its rows, and the others still commit.
                    try db.inSavepoint {
                        contentID = try insertRecord(
                            db, record, runID: runID, repositoryID: repositoryID, erasedPlans: &erasedPlans)
                        return .commit
                    }
                    results.append(.success(contentID))
                } catch let error as ArchiverError where error.code == .internalError {
                    results.append(.failure(error))
                }
            }
            return results
        }
        // The erased plans held per-object secrets: they leave the log too, once per batch.
        if erasedPlans { truncateLog() }
        return results
    }

    /// Writes one record's rows; returns its content id.
    private func insertRecord(
        _ db: Database, _ record: FileRecord, runID: Int64, repositoryID: String, erasedPlans: inout Bool
    ) throws -> Int64? {
        switch record {
        case .confirmed(let versionID):
            // Later runs may trust the fingerprint again; the version and every run's state stay.
            try db.cachedStatement(sql: "UPDATE versions SET confirmed_run = ? WHERE id = ? AND end_run IS NULL")
                .execute(arguments: [runID, versionID])
            return nil
        case .stored(let source, var version, let content, let pendingUploadPath):
            switch content {
            case .new(let new, let objects):
                guard new.runID == runID, new.repositoryID == repositoryID else {
                    throw ArchiverError(
                        .internalError, "a content of run \(new.runID) cannot be recorded by run \(runID)",
                        subject: version.display)
                }
                version.contentID = try insertContent(db, new, objects: objects)
            case .existing(let id): version.contentID = id
            case .empty: version.contentID = nil
            }
            _ = try insertVersion(db, runID: runID, repositoryID: repositoryID, source: source, entry: version)
            if let pendingUploadPath {
                try db.cachedStatement(
                    sql: "DELETE FROM pending_uploads WHERE repository_id = ? AND source = ? AND path = ?"
                ).execute(arguments: [repositoryID, source, Data(pendingUploadPath)])
                erasedPlans = erasedPlans || db.changesCount > 0
            }
            return version.contentID
        }
    }

    /// Notes that a file was found unchanged: clears its failure streak, if it has one. A plain read when there
    /// is none, so calling it for every unchanged file costs no write transaction.
    public func markUnchanged(runID: Int64, repositoryID: String, source: String, dir: [UInt8], name: [UInt8]) throws {
        let key: [(any DatabaseValueConvertible)?] = [repositoryID, source, Data(dir), Data(name)]
        let sql = "FROM failure_streaks WHERE repository_id = ? AND source = ? AND dir = ? AND name = ?"
        let hasStreak = try read("checking a failure streak") { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 \(sql)"), arguments: StatementArguments(key)) ?? false
        }
        guard hasStreak else { return }
        try write("clearing a failure streak") { db in
            let run = try requireRunningRun(db, runID)
            // A dry run stored nothing, so it proves nothing about a file that failed to store.
            guard !run.dryRun else { return }
            try db.execute(sql: "DELETE \(sql)", arguments: StatementArguments(key))
        }
    }

    /// Ends the current versions of `names` in `dir` at `runID`, and everything below each of them (a folder's
    /// subtree: `dir` equal to the path, or in `[path + "/", path + "0")` as bytes, so `a` never touches `ab`
    /// or `a0`). Their failure streaks go too. One transaction.
    /// - Returns: how many versions ended.
    @discardableResult
    public func markDeleted(runID: Int64, repositoryID: String, source: String, dir: [UInt8], names: [[UInt8]])
        throws -> Int
    {
        try CatalogPath.validateDir(dir)
        for name in names { try CatalogPath.validateName(name) }
        return try write("recording deletions in \(source)/\(BytePath.display(dir))") { db in
            try requireRecordingRun(db, runID, repositoryID: repositoryID)
            var ended = 0
            for name in names {
                ended += try endCurrent(
                    db, runID: runID, where: "repository_id = ? AND source = ? AND dir = ? AND name = ?",
                    [repositoryID, source, Data(dir), Data(name)])
                ended += try endSubtree(
                    db, runID: runID, repositoryID: repositoryID, source: source, path: BytePath.join(dir, name))
                try db.execute(
                    sql: "DELETE FROM failure_streaks WHERE repository_id = ? AND source = ? AND dir = ? AND name = ?",
                    arguments: [repositoryID, source, Data(dir), Data(name)])
            }
            return ended
        }
    }

    // MARK: History

    /// Every version of one path, oldest first, with the time of the run that recorded each.
    public func versions(repositoryID: String, source: String, dir: [UInt8], name: [UInt8]) throws -> [VersionRecord] {
        try read("listing versions") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(CatalogColumns.version)
                    FROM versions v JOIN runs r ON r.id = v.first_run
                    WHERE v.repository_id = ? AND v.source = ? AND v.dir = ? AND v.name = ?
                    ORDER BY v.first_run, v.id
                    """,
                arguments: [repositoryID, source, Data(dir), Data(name)]
            ).map(VersionRecord.init(row:))
        }
    }

    /// One version, or nil.
    public func version(id: Int64) throws -> VersionRecord? {
        try read("reading version \(id)") { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT \(CatalogColumns.version) FROM versions v JOIN runs r ON r.id = v.first_run WHERE v.id = ?",
                arguments: [id]
            ).map(VersionRecord.init(row:))
        }
    }

    // MARK: Helpers

    /// Ends the current versions matching `condition`: those recorded by this very run are deleted (an empty
    /// lifetime is in no run's state), the others get `end_run`. Returns how many ended.
    @discardableResult
    func endCurrent(
        _ db: Database, runID: Int64, where condition: String, _ arguments: [(any DatabaseValueConvertible)?]
    )
        throws -> Int
    {
        let args = StatementArguments(arguments) + [runID]
        // `condition` is one of a few fixed texts, so the cache holds a few statements.
        try db.cachedStatement(sql: "DELETE FROM versions WHERE \(condition) AND end_run IS NULL AND first_run = ?")
            .execute(arguments: args)
        var count = db.changesCount
        try db.cachedStatement(
            sql: "UPDATE versions SET end_run = ? WHERE \(condition) AND end_run IS NULL AND first_run < ?"
        ).execute(arguments: [runID] + args)
        count += db.changesCount
        return count
    }

    /// Ends everything below `path` and drops the failure streaks there.
    @discardableResult
    func endSubtree(_ db: Database, runID: Int64, repositoryID: String, source: String, path: [UInt8]) throws -> Int {
        let (lower, upper) = CatalogPath.below(path)
        var count = try endCurrent(
            db, runID: runID, where: "repository_id = ? AND source = ? AND dir = ?", [repositoryID, source, Data(path)])
        count += try endCurrent(
            db, runID: runID, where: "repository_id = ? AND source = ? AND dir >= ? AND dir < ?",
            [repositoryID, source, Data(lower), Data(upper)])
        try db.execute(
            sql: """
                DELETE FROM failure_streaks
                WHERE repository_id = ? AND source = ? AND (dir = ? OR (dir >= ? AND dir < ?))
                """,
            arguments: [repositoryID, source, Data(path), Data(lower), Data(upper)])
        return count
    }

    /// The content must exist in the same repository and hold exactly the file's bytes.
    private func checkContent(_ db: Database, _ contentID: Int64, repositoryID: String, size: Int64, display: String)
        throws
    {
        guard
            let content = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT repository_id, plaintext_size FROM contents WHERE id = ?"),
                arguments: [contentID])
        else {
            throw ArchiverError(.internalError, "content \(contentID) does not exist", subject: display)
        }
        let owner = try content.string("repository_id")
        guard owner == repositoryID else {
            throw ArchiverError(
                .internalError, "content \(contentID) is stored in repository \(owner), not \(repositoryID)",
                subject: display)
        }
        let stored = try content.int64("plaintext_size")
        guard stored == size else {
            throw ArchiverError(
                .internalError, "content \(contentID) holds \(stored) bytes but the file has \(size)", subject: display)
        }
    }

    /// Checks what can be checked without the database.
    static func validate(_ entry: NewVersion, source: String) throws {
        guard !source.isEmpty else { throw ArchiverError(.internalError, "a source must not be empty") }
        try CatalogPath.validateDir(entry.dir)
        try CatalogPath.validateName(entry.name)
        guard entry.size >= 0 else {
            throw ArchiverError(.internalError, "a negative size cannot be recorded", subject: entry.display)
        }
        switch entry.kind {
        case .file:
            guard entry.contentID != nil || entry.size == 0 else {
                throw ArchiverError(
                    .internalError, "a non-empty file needs a stored content to be recorded", subject: entry.display)
            }
            guard entry.linkTarget == nil else {
                throw ArchiverError(.internalError, "a file has no link target", subject: entry.display)
            }
        case .dir:
            guard entry.contentID == nil, entry.linkTarget == nil else {
                throw ArchiverError(.internalError, "a folder has no content or link target", subject: entry.display)
            }
        case .symlink:
            guard entry.contentID == nil, let target = entry.linkTarget, !target.isEmpty else {
                throw ArchiverError(
                    .internalError, "a symlink needs its target and has no content", subject: entry.display)
            }
        }
    }
}
