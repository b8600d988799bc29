import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The local record of what is stored where: repositories, runs, contents and their objects, and every version
/// of every source path.
///
/// The catalog only ever records what the engine reports as stored, and checks what it is told (segments cover
/// the plaintext, a file's content has the file's size, a run is still running) so that an engine bug fails loudly
/// instead of producing a record that claims data which is not there.
///
/// It is a SQLite database in WAL mode behind a GRDB `DatabasePool`: read-only commands (restore, list, verify)
/// run alongside a backup and see each committed write at once. Each `record…` call is its own transaction.
/// Times are stored as INTEGER nanoseconds since 1970 (UTC).
public final class Catalog: Sendable {
    /// The database file.
    public let path: String
    /// Whether the catalog was opened without write access.
    public let isReadOnly: Bool
    let database: any DatabaseWriter
    let lockFlag = LockFlag()
    private let writes = Atomic<Int>(0)

    /// Write transactions committed or attempted through this value: lets tests see how many a backup costs.
    package var writeTransactionCount: Int { writes.load(ordering: .relaxed) }

    /// Rows read per page by the streaming methods (`state`, `forEachObject`).
    static let pageSize = 500

    /// Opens the catalog at `path`, creating it (and missing parent folders) unless `readOnly`.
    ///
    /// A new file is created with mode 0600 and folders with 0700: the catalog lists every file name backed up.
    /// - Parameters:
    ///   - path: the database file.
    ///   - readOnly: open without write access; the file must already exist.
    /// - Throws: `ArchiverError(.catalog)` naming the path when the file is missing (read-only), is not a catalog,
    ///   is damaged, or was written by a newer archiver.
    public convenience init(path: String, readOnly: Bool = false) throws {
        let database = try Self.openDatabase(path: path, readOnly: readOnly)
        self.init(path: path, database: database, readOnly: readOnly)
    }

    init(path: String, database: any DatabaseWriter, readOnly: Bool) {
        self.path = path
        self.database = database
        self.isReadOnly = readOnly
    }

    // MARK: Opening

    private static func openDatabase(path: String, readOnly: Bool) throws -> any DatabaseWriter {
        var created = false
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ArchiverError(.catalog, "there is no catalog here", subject: path)
            }
        } else {
            created = try createFile(path)
        }
        let header = try readHeader(path)
        if readOnly, header.isEmpty {
            throw ArchiverError(.catalog, "there is no catalog here (the file is empty)", subject: path)
        }
        if !header.isEmpty {
            guard header.starts(with: sqliteMagic) else {
                throw ArchiverError(
                    .catalog, "this file is not an archiver catalog (not a SQLite database)", subject: path)
            }
            // Look before writing: opening a pool for writing would switch someone else's database to WAL.
            try preflight(path: path)
        }
        var config = Configuration()
        config.readonly = readOnly
        config.label = "archiver.catalog"
        // A backup and a verify may both write; wait for each other instead of failing at once.
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // Our schema needs no functions run from it; refuse any a tampered file might carry.
            try db.execute(sql: "PRAGMA trusted_schema = OFF")
            // Pending uploads hold per-object secrets: deleted rows are overwritten, not left in free pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            if readOnly {
                let complete = try pool.read { try CatalogSchema.migrator.hasCompletedMigrations($0) }
                guard complete else {
                    throw ArchiverError(
                        .catalog,
                        "this catalog has an older schema; open it once for writing (run a backup) to upgrade it",
                        subject: path)
                }
            } else {
                try CatalogSchema.migrator.migrate(pool)
            }
            return pool
        } catch {
            if created {
                for leftover in [path, path + "-wal", path + "-shm"] {
                    try? FileManager.default.removeItem(atPath: leftover)
                }
            }
            throw mapError(error, "opening the catalog", path: path)
        }
    }

    static let sqliteMagic = Array("SQLite format 3\0".utf8)

    /// Creates parent folders (0700) and the file (0600) when missing; true when the file was created.
    private static func createFile(_ path: String) throws -> Bool {
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) {
            do {
                try FileManager.default.createDirectory(
                    atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw ArchiverError(.catalog, "cannot create the catalog's folder: \(error)", subject: parent)
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            _ = close(fd)
            return true
        }
        let code = errno
        guard code == EEXIST else {
            throw ArchiverError(.catalog, "cannot create the catalog: \(errorText(code))", subject: path)
        }
        return false
    }

    /// The first 100 bytes of the file (fewer if it is shorter).
    static func readHeader(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ArchiverError(.catalog, "cannot read the catalog: \(errorText(errno))", subject: path)
        }
        defer { try? handle.close() }
        do {
            return [UInt8](try handle.read(upToCount: 100) ?? Data())
        } catch {
            throw ArchiverError(.catalog, "cannot read the catalog: \(error)", subject: path)
        }
    }

    /// Checks, read-only, that an existing SQLite file is an empty database or a catalog this build understands.
    private static func preflight(path: String) throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA trusted_schema = OFF") }
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            try queue.read { db in
                let objects = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                if objects == 0 { return }
                let migrations = CatalogSchema.migrator
                let applied = try db.tableExists("grdb_migrations") ? try migrations.appliedIdentifiers(db) : []
                guard let first = migrations.migrations.first, applied.contains(first),
                    try db.tableExists("versions")
                else {
                    throw ArchiverError(
                        .catalog, "this file is a SQLite database but not an archiver catalog", subject: path)
                }
                if try migrations.hasBeenSuperseded(db) {
                    let unknown = applied.subtracting(migrations.migrations).sorted().joined(separator: ", ")
                    throw ArchiverError(
                        .catalog,
                        "this catalog was written by a newer archiver (schema \(unknown)); upgrade archiver to use it",
                        subject: path)
                }
            }
        } catch {
            throw mapError(error, "opening the catalog", path: path)
        }
    }

    // MARK: Access

    /// Runs `body` in a read transaction (a consistent snapshot).
    func read<T>(_ action: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try database.read(body)
        } catch {
            throw Self.mapError(error, action, path: path)
        }
    }

    /// Runs `body` in an IMMEDIATE write transaction: the write lock is taken up front, so a transaction that
    /// reads before it writes cannot fail half way because another connection wrote in between.
    func write<T>(_ action: String, _ body: (Database) throws -> T) throws -> T {
        guard !isReadOnly else {
            throw ArchiverError(.catalog, "the catalog is open read-only; \(action) needs write access", subject: path)
        }
        writes.add(1, ordering: .relaxed)
        do {
            return try database.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                guard let result else {
                    throw ArchiverError(.internalError, "\(action): the transaction returned nothing")
                }
                return result
            }
        } catch {
            throw Self.mapError(error, action, path: path)
        }
    }

    /// Turns SQLite errors into `ArchiverError`s that say what happened to which file.
    static func mapError(_ error: any Error, _ action: String, path: String) -> ArchiverError {
        if let error = error as? ArchiverError { return error }
        guard let error = error as? DatabaseError else {
            return ArchiverError(.catalog, "\(action) failed: \(error)", subject: path)
        }
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return ArchiverError(
                .catalog, "this file is not an archiver catalog (not a SQLite database)", subject: path, cause: error)
        case .SQLITE_CORRUPT:
            return ArchiverError(
                .catalog, "the catalog is damaged (\(detail)); restore it from a recovery copy", subject: path,
                cause: error)
        case .SQLITE_FULL:
            return ArchiverError(
                .quota, "\(action) failed: the disk holding the catalog is full", subject: path, cause: error)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return ArchiverError(
                .locked, "\(action) failed: the catalog stayed busy (another process is writing it)", subject: path,
                cause: error)
        case .SQLITE_READONLY:
            return ArchiverError(
                .catalog, "\(action) failed: the catalog cannot be written (\(detail))", subject: path, cause: error)
        case .SQLITE_IOERR:
            return ArchiverError(.io, "\(action) failed: \(detail)", subject: path, cause: error)
        case .SQLITE_CANTOPEN:
            return ArchiverError(.catalog, "cannot open the catalog (\(detail))", subject: path, cause: error)
        case .SQLITE_CONSTRAINT:
            return ArchiverError(
                .catalog, "\(action) was refused by a consistency check (\(detail))", subject: path, cause: error)
        default:
            return ArchiverError(.catalog, "\(action) failed: \(detail)", subject: path, cause: error)
        }
    }

    // MARK: Values

    /// `Date` as stored: nanoseconds since 1970.
    static func nanoseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000_000).rounded())
    }

    /// Stored nanoseconds as a `Date`.
    static func date(_ nanoseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(nanoseconds) / 1_000_000_000)
    }

    /// The time runs are recorded at and retention counts from.
    ///
    /// `ARCHIVER_TEST_NOW` (an ISO 8601 time such as `2026-01-05T09:00:00Z`) replaces the clock. It is a test-only
    /// hook, so CLI tests can simulate runs on past days and check a retention policy over them (docs/retention.md);
    /// never set it otherwise: restores "as of" a time and the daemon's schedule would stop making sense.
    static func currentTime() -> Date {
        if let value = getenv("ARCHIVER_TEST_NOW"), let date = ISO8601DateFormatter().date(from: String(cString: value)) {
            return date
        }
        return Date()
    }

    static func now() -> Int64 { nanoseconds(currentTime()) }
}
