import Foundation
import GRDB

/// Files counted by a comparison between targets, with a few of them by name.
public struct TargetGap: Sendable, Hashable {
    /// How many files.
    public var files: Int64 = 0
    /// Their plaintext bytes.
    public var bytes: Int64 = 0
    /// The first few, as `remote/path`, in path order.
    public var sample: [String] = []
}

// Comparing the repositories of several targets in the one catalog. A target "holds" a file when its current
// version of the path has the same plaintext (SHA-256 and size) in a content none of whose objects verify found
// damaged; empty files hold no content and compare by size. Every object was recorded only after its backend
// confirmed it, so a held file is a confirmed copy.
extension Catalog {
    /// The current files of the other repositories that `repositoryID` does not hold and has not seen change
    /// since (it recorded nothing for the path after the other did): what a backup to it, or a copy, would add.
    /// - Parameters:
    ///   - repositoryID: the target's repository.
    ///   - others: the other targets' repositories.
    ///   - sampleLimit: how many paths to name.
    public func missingFiles(repositoryID: String, comparedWith others: [String], sampleLimit: Int) throws -> TargetGap
    {
        guard !others.isEmpty else { return TargetGap() }
        let marks = Array(repeating: "?", count: others.count).joined(separator: ", ")
        let sql = """
            SELECT DISTINCT o.source, o.dir, o.name, o.display, o.size
            FROM versions o LEFT JOIN contents oc ON oc.id = o.content_id
            WHERE o.repository_id IN (\(marks)) AND o.end_run IS NULL AND o.kind = 'file'
                AND NOT EXISTS (
                    SELECT 1 FROM versions t LEFT JOIN contents tc ON tc.id = t.content_id
                    WHERE t.repository_id = ? AND t.source = o.source AND t.dir = o.dir AND t.name = o.name
                        AND t.end_run IS NULL AND t.kind = 'file' AND t.size = o.size
                        AND tc.plaintext_sha256 IS oc.plaintext_sha256
                        AND NOT EXISTS (
                            SELECT 1 FROM objects d WHERE d.content_id = t.content_id AND d.damaged_at IS NOT NULL))
                AND NOT EXISTS (
                    SELECT 1 FROM versions t
                    WHERE t.repository_id = ? AND t.source = o.source AND t.dir = o.dir AND t.name = o.name
                        AND (t.first_run > o.first_run OR t.end_run > o.first_run))
            ORDER BY o.source, o.dir, o.name
            """
        return try gap(
            "comparing targets", sql: sql, StatementArguments(others) + [repositoryID, repositoryID],
            sampleLimit: sampleLimit)
    }

    /// The files (current in any of the repositories, at their newest version) that fewer than `copies` of the
    /// repositories hold.
    /// - Parameters:
    ///   - repositoryIDs: the targets' repositories.
    ///   - copies: the wanted number of copies.
    ///   - sampleLimit: how many paths to name.
    public func underCopiedFiles(repositoryIDs: [String], copies: Int, sampleLimit: Int) throws -> TargetGap {
        guard !repositoryIDs.isEmpty else { return TargetGap() }
        let marks = Array(repeating: "?", count: repositoryIDs.count).joined(separator: ", ")
        let sql = """
            WITH current AS (
                SELECT v.source, v.dir, v.name, v.display, v.size, v.first_run, c.plaintext_sha256 AS sha,
                    NOT EXISTS (SELECT 1 FROM objects d WHERE d.content_id = v.content_id AND d.damaged_at IS NOT NULL)
                        AS intact
                FROM versions v LEFT JOIN contents c ON c.id = v.content_id
                WHERE v.repository_id IN (\(marks)) AND v.end_run IS NULL AND v.kind = 'file'
            ),
            compared AS (
                SELECT source, dir, name, display, intact,
                    first_value(size) OVER newest AS newest_size,
                    (sha IS first_value(sha) OVER newest AND size = first_value(size) OVER newest) AS same
                FROM current
                WINDOW newest AS (PARTITION BY source, dir, name ORDER BY first_run DESC)
            )
            SELECT source, dir, name, max(display) AS display, max(newest_size) AS size
            FROM compared GROUP BY source, dir, name HAVING sum(same AND intact) < ?
            ORDER BY source, dir, name
            """
        return try gap(
            "counting copies", sql: sql, StatementArguments(repositoryIDs) + [copies], sampleLimit: sampleLimit)
    }

    /// Ends, at `runID`, the current versions of `repositoryID` whose path is absent from the state of `source` as
    /// of `sourceRun`: after a copy the target's current state is the source's (what the copy ended stays in its
    /// history). One statement.
    /// - Returns: how many versions ended.
    @discardableResult
    public func endVersionsAbsent(repositoryID: String, runID: Int64, from source: String, asOfRun sourceRun: Int64)
        throws -> Int
    {
        try write("ending versions the copied state lacks") { db in
            try requireRecordingRun(db, runID, repositoryID: repositoryID)
            try db.execute(
                sql: """
                    UPDATE versions SET end_run = ?
                    WHERE repository_id = ? AND end_run IS NULL AND first_run < ?
                        AND NOT EXISTS (
                            SELECT 1 FROM versions a
                            WHERE a.repository_id = ? AND a.source = versions.source AND a.dir = versions.dir
                                AND a.name = versions.name AND a.first_run <= ? AND (a.end_run IS NULL OR a.end_run > ?))
                    """, arguments: [runID, repositoryID, runID, source, sourceRun, sourceRun])
            return db.changesCount
        }
    }

    /// Streams a query's rows (`display`, `size`), counting them and keeping the first few names.
    private func gap(_ action: String, sql: String, _ arguments: StatementArguments, sampleLimit: Int) throws
        -> TargetGap
    {
        try read(action) { db in
            var gap = TargetGap()
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                gap.files += 1
                gap.bytes += try row.int64("size")
                if gap.sample.count < sampleLimit { gap.sample.append(try row.string("display")) }
            }
            return gap
        }
    }
}
