import Foundation
import GRDB

// Decoding rows into records. Every read goes through `Row.decode`, which throws on a NULL or mistyped value
// instead of trapping: a catalog fetched from a remote is untrusted, and a bad row must become an error.

/// Where a row value is read from: a column's name (readable), or its position (for the queries that run once per
/// folder of every backup, where GRDB's name lookup, which lowercases the name for every value, was a third of a
/// rescan's CPU).
protocol RowColumn: CustomStringConvertible {
    func read<V: DatabaseValueConvertible & StatementColumnConvertible>(_ row: Row, _ type: V.Type) throws -> V
    func readOptional<V: DatabaseValueConvertible & StatementColumnConvertible>(_ row: Row, _ type: V.Type)
        throws -> V?
}

extension String: RowColumn {
    func read<V: DatabaseValueConvertible & StatementColumnConvertible>(_ row: Row, _ type: V.Type) throws -> V {
        try row.decode(V.self, forColumn: self)
    }
    func readOptional<V: DatabaseValueConvertible & StatementColumnConvertible>(_ row: Row, _ type: V.Type)
        throws -> V?
    {
        try row.decode(V?.self, forColumn: self)
    }
}

extension Int: RowColumn {
    func read<V: DatabaseValueConvertible & StatementColumnConvertible>(_ row: Row, _ type: V.Type) throws -> V {
        try row.decode(V.self, atIndex: self)
    }
    func readOptional<V: DatabaseValueConvertible & StatementColumnConvertible>(_ row: Row, _ type: V.Type)
        throws -> V?
    {
        try row.decode(V?.self, atIndex: self)
    }
}

extension Row {
    func int64(_ column: some RowColumn) throws -> Int64 { try column.read(self, Int64.self) }
    func optionalInt64(_ column: some RowColumn) throws -> Int64? { try column.readOptional(self, Int64.self) }
    func string(_ column: some RowColumn) throws -> String { try column.read(self, String.self) }
    func bytes(_ column: some RowColumn) throws -> [UInt8] { [UInt8](try column.read(self, Data.self)) }
    func optionalBytes(_ column: some RowColumn) throws -> [UInt8]? {
        try column.readOptional(self, Data.self).map { [UInt8]($0) }
    }
    func bool(_ column: some RowColumn) throws -> Bool { try int64(column) != 0 }
    func date(_ column: some RowColumn) throws -> Date { Catalog.date(try int64(column)) }
    func optionalDate(_ column: some RowColumn) throws -> Date? { try optionalInt64(column).map(Catalog.date) }

    /// A stored integer that must fit `T` (mode, uid, segment ...).
    func integer<T: FixedWidthInteger>(_ column: some RowColumn, as type: T.Type = T.self) throws -> T {
        let value = try int64(column)
        guard let converted = T(exactly: value) else {
            throw ArchiverError(.catalog, "the catalog holds an out-of-range \(column) (\(value))")
        }
        return converted
    }

    /// A stored string that must be one of an enum's raw values.
    func enumValue<T: RawRepresentable>(_ column: some RowColumn, as type: T.Type = T.self) throws -> T
    where T.RawValue == String {
        let raw = try string(column)
        guard let value = T(rawValue: raw) else {
            throw ArchiverError(.catalog, "the catalog holds an unknown \(column) '\(raw)'")
        }
        return value
    }
}

enum CatalogColumns {
    static let run = """
        id, repository_id, started_at, finished_at, status, dry_run, files_seen, stored, unchanged, deduplicated,
        failed, bytes_read, bytes_stored
        """
    static let content = """
        id, repository_id, plaintext_sha256, plaintext_size, encrypted, recipients, compression, format_id,
        stored_size, created_run
        """
    static let object = """
        id, repository_id, content_id, segment, name, stored_size, stored_md5, stored_sha256, plaintext_offset,
        plaintext_size, verified_at, deep_verified_at, damaged_at
        """
    /// Version columns qualified with `v.`, plus the first run's times as `first_started_at`/`first_finished_at`;
    /// use with `versions v JOIN runs r ON r.id = v.first_run`.
    static let version = """
        v.id, v.repository_id, v.source, v.dir, v.name, v.display, v.kind, v.size, v.mtime_ns, v.ctime_ns, v.inode,
        v.mode, v.uid, v.gid, v.link_target, v.content_id, v.first_run, v.end_run,
        r.started_at AS first_started_at, r.finished_at AS first_finished_at
        """
}

extension RunRecord {
    init(row: Row) throws {
        self.init(
            id: try row.int64("id"), repositoryID: try row.string("repository_id"),
            startedAt: try row.date("started_at"), finishedAt: try row.optionalDate("finished_at"),
            status: try row.enumValue("status"), dryRun: try row.bool("dry_run"),
            counts: RunCounts(
                filesSeen: try row.int64("files_seen"), stored: try row.int64("stored"),
                unchanged: try row.int64("unchanged"), deduplicated: try row.int64("deduplicated"),
                failed: try row.int64("failed"), bytesRead: try row.int64("bytes_read"),
                bytesStored: try row.int64("bytes_stored")))
    }
}

extension ContentRecord {
    init(row: Row) throws {
        let recipients = try row.string("recipients")
        self.init(
            id: try row.int64("id"), repositoryID: try row.string("repository_id"),
            plaintextSHA256: try row.bytes("plaintext_sha256"), plaintextSize: try row.int64("plaintext_size"),
            encrypted: try row.bool("encrypted"),
            recipients: recipients.isEmpty ? [] : recipients.split(separator: "\n").map(String.init),
            compression: try row.string("compression"), formatID: try row.string("format_id"),
            storedSize: try row.int64("stored_size"), createdRun: try row.int64("created_run"))
    }
}

extension ObjectRecord {
    init(row: Row) throws {
        self.init(
            id: try row.int64("id"), repositoryID: try row.string("repository_id"),
            contentID: try row.int64("content_id"), segment: try row.integer("segment"), name: try row.string("name"),
            storedSize: try row.int64("stored_size"), storedMD5: try row.optionalBytes("stored_md5"),
            storedSHA256: try row.bytes("stored_sha256"), plaintextOffset: try row.int64("plaintext_offset"),
            plaintextSize: try row.int64("plaintext_size"), verifiedAt: try row.optionalDate("verified_at"),
            deepVerifiedAt: try row.optionalDate("deep_verified_at"), damagedAt: try row.optionalDate("damaged_at"))
    }
}

extension VersionRecord {
    init(row: Row) throws {
        self.init(
            id: try row.int64("id"), repositoryID: try row.string("repository_id"), source: try row.string("source"),
            dir: try row.bytes("dir"), name: try row.bytes("name"), display: try row.string("display"),
            kind: try row.enumValue("kind"), size: try row.int64("size"), mtimeNs: try row.int64("mtime_ns"),
            ctimeNs: try row.int64("ctime_ns"), inode: UInt64(bitPattern: try row.int64("inode")),
            mode: try row.integer("mode"), uid: try row.integer("uid"), gid: try row.integer("gid"),
            linkTarget: try row.optionalBytes("link_target"), contentID: try row.optionalInt64("content_id"),
            firstRun: try row.int64("first_run"), endRun: try row.optionalInt64("end_run"),
            firstRunStartedAt: try row.date("first_started_at"),
            firstRunFinishedAt: try row.optionalDate("first_finished_at"))
    }
}

extension FailureRecord {
    init(row: Row) throws {
        self.init(
            id: try row.int64("id"), runID: try row.int64("run_id"), repositoryID: try row.string("repository_id"),
            source: try row.string("source"), dir: try row.bytes("dir"), name: try row.bytes("name"),
            display: try row.string("display"), message: try row.string("message"), at: try row.date("at"))
    }
}

extension FailureStreak {
    init(row: Row) throws {
        self.init(
            repositoryID: try row.string("repository_id"), source: try row.string("source"),
            dir: try row.bytes("dir"), name: try row.bytes("name"), display: try row.string("display"),
            count: try row.integer("count"), lastRun: try row.int64("last_run"), message: try row.string("message"))
    }
}
