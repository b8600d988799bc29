import Foundation
import GRDB

extension Catalog {
    /// Records that a path could not be stored in a run, and extends its failure streak: by one per run, however
    /// often the run reports it. A dry run's failures are listed for the run but leave streaks alone.
    public func recordFailure(
        runID: Int64, repositoryID: String, source: String, dir: [UInt8], name: [UInt8], display: String,
        message: String
    ) throws {
        try write("recording a failure of \(display)") { db in
            let run = try requireRunningRun(db, runID)
            guard run.repositoryID == repositoryID else {
                throw ArchiverError(
                    .internalError, "run \(runID) belongs to repository \(run.repositoryID), not \(repositoryID)",
                    subject: path)
            }
            try db.execute(
                sql: """
                    INSERT INTO failures (run_id, repository_id, source, dir, name, display, message, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [runID, repositoryID, source, Data(dir), Data(name), display, message, Self.now()])
            guard !run.dryRun else { return }
            try db.execute(
                sql: """
                    INSERT INTO failure_streaks (repository_id, source, dir, name, display, count, last_run, message)
                    VALUES (?, ?, ?, ?, ?, 1, ?, ?)
                    ON CONFLICT (repository_id, source, dir, name) DO UPDATE SET
                        count = CASE WHEN last_run = excluded.last_run THEN count ELSE count + 1 END,
                        last_run = excluded.last_run, display = excluded.display, message = excluded.message
                    """,
                arguments: [repositoryID, source, Data(dir), Data(name), display, runID, message])
        }
    }

    /// Paths that failed in at least `minimum` runs in a row, longest streaks first.
    public func failureStreaks(repositoryID: String, minimum: Int) throws -> [FailureStreak] {
        try read("listing failure streaks") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT repository_id, source, dir, name, display, count, last_run, message FROM failure_streaks
                    WHERE repository_id = ? AND count >= ?
                    ORDER BY count DESC, source, dir, name
                    """,
                arguments: [repositoryID, minimum]
            ).map(FailureStreak.init(row:))
        }
    }

    /// The failures a run recorded, in the order it recorded them.
    public func failures(runID: Int64) throws -> [FailureRecord] {
        try read("listing failures") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, run_id, repository_id, source, dir, name, display, message, at FROM failures
                    WHERE run_id = ? ORDER BY id
                    """,
                arguments: [runID]
            ).map(FailureRecord.init(row:))
        }
    }

    /// Totals for one repository.
    public func stats(repositoryID: String) throws -> CatalogStats {
        try read("computing statistics") { db in
            let versions = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS total,
                        coalesce(sum(kind = 'file'), 0) AS files,
                        coalesce(sum(CASE WHEN kind = 'file' THEN size ELSE 0 END), 0) AS bytes
                    FROM versions WHERE repository_id = ? AND end_run IS NULL
                    """,
                arguments: [repositoryID])
            let objects = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS total, coalesce(sum(stored_size), 0) AS bytes,
                        coalesce(sum(damaged_at IS NOT NULL), 0) AS damaged
                    FROM objects WHERE repository_id = ?
                    """,
                arguments: [repositoryID])
            let contents = try Int64.fetchOne(
                db, sql: "SELECT count(*) FROM contents WHERE repository_id = ?", arguments: [repositoryID])
            let lastRun = try Row.fetchOne(
                db, sql: "SELECT \(CatalogColumns.run) FROM runs WHERE repository_id = ? ORDER BY id DESC LIMIT 1",
                arguments: [repositoryID])
            let lastCompleted = try Row.fetchOne(
                db,
                sql: """
                    SELECT \(CatalogColumns.run) FROM runs
                    WHERE repository_id = ? AND status = 'completed' AND dry_run = 0 ORDER BY id DESC LIMIT 1
                    """,
                arguments: [repositoryID])
            return CatalogStats(
                currentVersions: try versions?.int64("total") ?? 0, currentFiles: try versions?.int64("files") ?? 0,
                currentFileBytes: try versions?.int64("bytes") ?? 0, contents: contents ?? 0,
                objects: try objects?.int64("total") ?? 0, storedBytes: try objects?.int64("bytes") ?? 0,
                damagedObjects: try objects?.int64("damaged") ?? 0, lastRun: try lastRun.map(RunRecord.init(row:)),
                lastCompletedRun: try lastCompleted.map(RunRecord.init(row:)))
        }
    }
}
