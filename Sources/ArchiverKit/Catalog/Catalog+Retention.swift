public import Foundation
import GRDB

/// The bucket keys of one run's start time in the retention's time zone (restic's: `2026112721` for an hour,
/// `20261127` for a day, ISO year and week `202648`, `202611` for a month, `2026` for a year).
public struct RunBuckets: Sendable, Hashable {
    /// The run.
    public var runID: Int64
    /// Year, month, day and hour.
    public var hour: Int64
    /// Year, month and day.
    public var day: Int64
    /// ISO week-numbering year and week.
    public var week: Int64
    /// Year and month.
    public var month: Int64
    /// Year.
    public var year: Int64

    /// Computes the keys of `date` in `calendar`'s time zone.
    /// - Parameters:
    ///   - runID: the run.
    ///   - date: when it started.
    ///   - calendar: an ISO 8601 calendar in the retention's zone.
    public init(runID: Int64, date: Date, calendar: Calendar) {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .weekOfYear, .yearForWeekOfYear], from: date)
        let (y, mo, d, h) = (Int64(c.year ?? 0), Int64(c.month ?? 0), Int64(c.day ?? 0), Int64(c.hour ?? 0))
        self.runID = runID
        hour = ((y * 100 + mo) * 100 + d) * 100 + h
        day = (y * 100 + mo) * 100 + d
        week = Int64(c.yearForWeekOfYear ?? 0) * 100 + Int64(c.weekOfYear ?? 0)
        month = y * 100 + mo
        year = y
    }
}

/// What `planForget` selected in one repository.
public struct ForgetPlan: Sendable, Hashable {
    /// File versions the policy drops.
    public var versions: Int64
    /// Contents no remaining version references (the dedup guard passed), whose objects go.
    public var contents: Int64
    /// Those contents' objects.
    public var objects: Int64
    /// Those objects' stored bytes: what the backend frees.
    public var bytes: Int64
}

/// A content about to be deleted, with its objects in segment order.
public struct DoomedContent: Sendable, Hashable {
    /// The content's id.
    public var id: Int64
    /// Its objects.
    public var objects: [ObjectRecord]
}

// Retention works in three steps on the writer connection, under the run lock:
//   1. `planForget` selects, in set-based SQL, the versions the policy drops into `temp.forget_versions` and the
//      contents none of the remaining versions references into `temp.forget_contents`;
//   2. `dropForgottenVersionsKeepingContents` deletes the dropped versions whose content stays (one transaction);
//   3. for each doomed content, the caller deletes its objects on the backend and only then `dropContent` removes
//      its rows. A failed delete leaves the content, its objects and its versions recorded; a rerun selects them again.
// The temporary tables live on the writer connection only (which is why even a dry run reads them through `write`).
extension Catalog {
    /// The start times of every run of a repository, for bucketing (runs are few beside versions).
    public func runStarts(repositoryID: String) throws -> [(id: Int64, started: Date)] {
        try read("listing runs") { db in
            try Row.fetchAll(
                db, sql: "SELECT id, started_at FROM runs WHERE repository_id = ? ORDER BY id",
                arguments: [repositoryID]
            ).map { (try $0.int64("id"), try $0.date("started_at")) }
        }
    }

    /// Selects what a retention policy drops in one repository (see the comment above for the steps).
    ///
    /// Per path (file versions only; folders and symlinks hold no objects), newest first by the run that recorded
    /// each version: the current version of an existing file is kept; `last` keeps the newest N; `hourly` … `yearly`
    /// keep the newest version in each of the N most recent hours … years that have a version (restic's rules,
    /// applied to one path's versions); without any of those every version is kept. A deleted path keeps its last
    /// version too, until `deletedDays` after its deletion, when every version of it goes.
    /// - Parameters:
    ///   - repositoryID: the repository.
    ///   - policies: each source's retention; sources absent here keep everything.
    ///   - buckets: every run's bucket keys.
    ///   - now: the time `deletedDays` counts back from.
    /// - Returns: the counts and the bytes freed.
    public func planForget(
        repositoryID: String, policies: [(source: String, keep: ArchiverConfig.Retention)], buckets: [RunBuckets],
        now: Date
    ) throws -> ForgetPlan {
        let json =
            "["
            + buckets.map { "[\($0.runID),\($0.hour),\($0.day),\($0.week),\($0.month),\($0.year)]" }
            .joined(separator: ",") + "]"
        return try write("selecting what the retention policy drops") { db in
            try db.execute(
                sql: """
                    DROP TABLE IF EXISTS temp.forget_versions;
                    DROP TABLE IF EXISTS temp.forget_contents;
                    CREATE TEMP TABLE forget_versions (id INTEGER PRIMARY KEY, content_id INTEGER);
                    CREATE INDEX temp.forget_versions_by_content ON forget_versions(content_id);
                    CREATE TEMP TABLE forget_contents (id INTEGER PRIMARY KEY);
                    DROP TABLE IF EXISTS temp.forget_runs;
                    CREATE TEMP TABLE forget_runs (run_id INTEGER PRIMARY KEY, h INTEGER, d INTEGER, w INTEGER,
                        m INTEGER, y INTEGER);
                    """)
            // Keyed by run, so each version finds its run's buckets with one seek.
            try db.execute(
                sql: """
                    INSERT INTO temp.forget_runs (run_id, h, d, w, m, y)
                    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                        json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
                    FROM json_each(?)
                    """, arguments: [json])
            for (source, keep) in policies where !keep.keepsEverything {
                let cutoff = keep.deletedDays.map { Self.nanoseconds(now) - Int64($0) * 86_400 * 1_000_000_000 }
                let (sql, arguments) = Self.forgetSelection(keep: keep, cutoffNs: cutoff)
                try db.execute(sql: sql, arguments: [repositoryID, source] + arguments)
            }
            // The dedup guard: a content goes only when every version of the repository (any source, any path)
            // that references it is being dropped.
            try db.execute(
                sql: """
                    INSERT INTO temp.forget_contents (id)
                    SELECT v.content_id FROM versions v LEFT JOIN temp.forget_versions f ON f.id = v.id
                    WHERE v.repository_id = ?
                        AND v.content_id IN (SELECT content_id FROM temp.forget_versions WHERE content_id IS NOT NULL)
                    GROUP BY v.content_id HAVING count(f.id) = count(*)
                    """, arguments: [repositoryID])
            let versions = try Int64.fetchOne(db, sql: "SELECT count(*) FROM temp.forget_versions") ?? 0
            let contents = try Int64.fetchOne(db, sql: "SELECT count(*) FROM temp.forget_contents") ?? 0
            let objects = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS n, coalesce(sum(stored_size), 0) AS bytes FROM objects
                    WHERE content_id IN (SELECT id FROM temp.forget_contents)
                    """)
            return ForgetPlan(
                versions: versions, contents: contents, objects: try objects?.int64("n") ?? 0,
                bytes: try objects?.int64("bytes") ?? 0)
        }
    }

    /// The INSERT that selects one source's dropped versions. Arguments: the repository, the source, then the
    /// returned ones. `CROSS JOIN` keeps `versions` the outer loop (read once along `versions_by_path`), each
    /// version finding its run's buckets by primary key.
    static func forgetSelection(keep: ArchiverConfig.Retention, cutoffNs: Int64?) -> (String, StatementArguments) {
        let rules: [(column: String, count: Int?)] = [
            ("h", keep.hourly), ("d", keep.daily), ("w", keep.weekly), ("m", keep.monthly), ("y", keep.yearly),
        ]
        var flags = ""
        var ranks = ""
        var keeps: [String] = []
        var counts: [Int] = []
        if let last = keep.last {
            keeps.append("r.rn <= ?")
            counts.append(last)
        }
        for (column, count) in rules {
            guard let count else { continue }
            // Restic's rule: walking a path's versions newest first, a version whose bucket differs from the newer
            // one's starts a bucket and is kept while fewer than `count` buckets have started. (Buckets follow run
            // order, so this is the newest version of each of the `count` most recent buckets that have one.)
            // Both windows share one partition and order: two sorts however many rules are set.
            flags += ",\n        b.\(column) IS NOT lag(b.\(column)) OVER newest AS \(column)_first"
            ranks += ",\n        sum(\(column)_first) OVER newest AS \(column)_rank"
            keeps.append("(r.\(column)_first AND r.\(column)_rank <= ?)")
            counts.append(count)
        }
        let byRules = keeps.isEmpty ? "1" : keeps.joined(separator: " OR ")
        // Arguments in the order they appear in the SQL: the cutoff (in `expired`) before the rule counts.
        var arguments: StatementArguments = []
        let expired: String
        let deletedLast: String
        if let cutoffNs {
            expired = "(r.path_end IS NOT NULL AND e.started_at < ?)"
            deletedLast = "(r.rn = 1 AND r.path_end IS NOT NULL)"
            arguments += [cutoffNs]
        } else {
            expired = "0"
            deletedLast = "0"
        }
        arguments += StatementArguments(counts)
        let sql = """
            WITH flagged AS (
                SELECT v.id, v.content_id, v.dir, v.name, v.first_run,
                    row_number() OVER newest AS rn,
                    first_value(v.end_run) OVER newest AS path_end\(flags)
                FROM versions v CROSS JOIN temp.forget_runs b ON b.run_id = v.first_run
                WHERE v.repository_id = ? AND v.source = ? AND v.kind = 'file'
                WINDOW newest AS (PARTITION BY v.dir, v.name ORDER BY v.first_run DESC ROWS UNBOUNDED PRECEDING)
            ),
            ranked AS (
                SELECT *\(ranks)
                FROM flagged
                WINDOW newest AS (PARTITION BY dir, name ORDER BY first_run DESC ROWS UNBOUNDED PRECEDING)
            )
            INSERT INTO temp.forget_versions (id, content_id)
            SELECT r.id, r.content_id FROM ranked r LEFT JOIN runs e ON e.id = r.path_end
            WHERE NOT ((r.rn = 1 AND r.path_end IS NULL) OR (NOT \(expired) AND (\(deletedLast) OR \(byRules))))
            """
        return (sql, arguments)
    }

    /// Calls `body` with the dropped versions, a page at a time in (source, dir, name, run) order (for a dry run's
    /// listing), each with whether its content goes too.
    public func forEachForgottenVersion(
        repositoryID: String, _ body: (VersionRecord, _ contentGoes: Bool) throws -> Void
    ) throws {
        var after: (source: String, dir: [UInt8], name: [UInt8], run: Int64) = ("", [], [], 0)
        while true {
            // A walk along `versions_by_path` that picks the dropped ones: each page resumes where the last ended.
            let page = try write("listing the versions retention drops") { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(CatalogColumns.version),
                            v.content_id IN (SELECT id FROM temp.forget_contents) AS goes
                        FROM versions v JOIN runs r ON r.id = v.first_run
                        WHERE v.repository_id = ? AND (v.source, v.dir, v.name, v.first_run) > (?, ?, ?, ?)
                            AND v.id IN (SELECT id FROM temp.forget_versions)
                        ORDER BY v.source, v.dir, v.name, v.first_run LIMIT ?
                        """,
                    arguments: [
                        repositoryID, after.source, Data(after.dir), Data(after.name), after.run, Self.pageSize,
                    ]
                ).map { (try VersionRecord(row: $0), (try $0.decode(Int64?.self, forColumn: "goes") ?? 0) != 0) }
            }
            for (version, goes) in page { try body(version, goes) }
            guard let last = page.last?.0, page.count == Self.pageSize else { return }
            after = (last.source, last.dir, last.name, last.firstRun)
        }
    }

    /// Deletes the dropped versions whose content stays (or that have none): no object goes with them.
    /// - Returns: how many were deleted.
    @discardableResult
    public func dropForgottenVersionsKeepingContents() throws -> Int {
        try write("deleting forgotten versions") { db in
            try db.execute(
                sql: """
                    DELETE FROM versions WHERE id IN (
                        SELECT id FROM temp.forget_versions
                        WHERE content_id IS NULL OR content_id NOT IN (SELECT id FROM temp.forget_contents))
                    """)
            return db.changesCount
        }
    }

    /// The next doomed contents after `after`, with their objects.
    public func doomedContents(after: Int64, limit: Int) throws -> [DoomedContent] {
        try write("listing contents to delete") { db in
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM temp.forget_contents WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [after, limit])
            return try ids.map { id in
                DoomedContent(
                    id: id,
                    objects: try Row.fetchAll(
                        db, sql: "SELECT \(CatalogColumns.object) FROM objects WHERE content_id = ? ORDER BY segment",
                        arguments: [id]
                    ).map(ObjectRecord.init(row:)))
            }
        }
    }

    /// Marks the objects of contents about to be deleted as damaged, so deduplication never picks them again even
    /// if the pass dies between the backend's delete and `dropContents`. Nothing current references them (current
    /// versions are always kept), so no backup is asked to store a file again.
    public func markContentsDoomed(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        try write("marking contents to delete") { db in
            try db.execute(
                sql: "UPDATE objects SET damaged_at = ? WHERE content_id IN (\(marks)) AND damaged_at IS NULL",
                arguments: [Self.now()] + StatementArguments(ids))
        }
    }

    /// Removes contents whose objects the backend confirmed deleted, with their objects and the dropped versions
    /// that referenced them, in one transaction. The dedup guard is checked again first: if any version outside
    /// the selection references one of them, nothing is removed.
    /// - Returns: how many versions went.
    /// - Throws: `ArchiverError(.internalError)` when another version references one (its objects are gone).
    @discardableResult
    public func dropContents(ids: [Int64]) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let arguments = StatementArguments(ids)
        return try write("deleting \(ids.count) contents") { db in
            let others =
                try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM versions
                        WHERE content_id IN (\(marks)) AND id NOT IN (SELECT id FROM temp.forget_versions)
                        """, arguments: arguments) ?? 0
            guard others == 0 else {
                throw ArchiverError(
                    .internalError, "\(others) versions outside the selection reference contents being deleted",
                    subject: path)
            }
            try db.execute(
                sql: """
                    DELETE FROM versions WHERE id IN (
                        SELECT id FROM temp.forget_versions WHERE content_id IN (\(marks)))
                    """, arguments: arguments)
            let versions = db.changesCount
            try db.execute(sql: "DELETE FROM objects WHERE content_id IN (\(marks))", arguments: arguments)
            try db.execute(sql: "DELETE FROM contents WHERE id IN (\(marks))", arguments: arguments)
            return versions
        }
    }

    /// Drops the temporary selection.
    public func endForget() throws {
        try write("ending the retention pass") { db in
            try db.execute(
                sql: """
                    DROP TABLE IF EXISTS temp.forget_versions; DROP TABLE IF EXISTS temp.forget_contents;
                    DROP TABLE IF EXISTS temp.forget_runs
                    """)
        }
    }
}
