import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension Catalog {
    // MARK: Writing a recovery copy

    /// Writes a complete, consistent copy of the catalog to a new file (mode 0600) with SQLite's online backup,
    /// from one read snapshot, so a backup may keep writing meanwhile. The copy is switched to rollback-journal
    /// mode, so it is one self-contained file with no `-wal` beside it, and passes `quick_check` before this
    /// returns. The engine encrypts and uploads it.
    /// - Throws: `ArchiverError(.catalog)` if `destination` exists or the copy fails; a partial copy is removed.
    public func writeConsistentCopy(to destination: String) throws {
        let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ArchiverError(
                .catalog, "cannot create the catalog copy: \(errorText(errno))", subject: destination)
        }
        _ = close(fd)
        do {
            let copy = try DatabaseQueue(path: destination)
            try database.backup(to: copy)
            try copy.writeWithoutTransaction { db in
                // Per-object secrets of unfinished uploads stay on this machine.
                try db.execute(sql: "PRAGMA secure_delete = ON")
                try db.execute(sql: "DELETE FROM pending_uploads")
                // The backup carries the source's WAL flag in the header; a copy must not depend on a -wal file.
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
                guard mode == "delete" else {
                    throw ArchiverError(
                        .catalog, "could not switch the copy to rollback-journal mode", subject: destination)
                }
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw ArchiverError(
                        .catalog, "the copy failed its check: \(check.prefix(3).joined(separator: "; "))",
                        subject: destination)
                }
            }
            try copy.close()
            let header = try Self.readHeader(destination)
            guard header.count == 100, header[18] == 1, header[19] == 1 else {
                throw ArchiverError(.catalog, "the copy is not in rollback-journal mode", subject: destination)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw Self.mapError(error, "copying the catalog", path: destination)
        }
    }

    // MARK: Opening a copy from a remote

    /// Opens a catalog copy that came from a remote which may be hostile, read-only.
    ///
    /// Before anything is read from it: the file must be a SQLite database in rollback-journal mode; the
    /// connection is hardened (`trusted_schema=OFF`, `SQLITE_DBCONFIG_DEFENSIVE`, `cell_size_check`,
    /// `query_only`); `PRAGMA quick_check` must pass; and `sqlite_master` must equal, object for object (type,
    /// name, table, SQL), what archiver's migrations create, with the same migrations recorded. Any extra
    /// trigger, view, table or index, or any different SQL, is refused.
    /// - Throws: `ArchiverError(.catalog)` naming the path and the reason.
    public static func openUntrusted(path: String) throws -> Catalog {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ArchiverError(.catalog, "there is no catalog copy here", subject: path)
        }
        let header = try readHeader(path)
        guard header.count == 100, header.starts(with: sqliteMagic) else {
            throw ArchiverError(
                .catalog, "this file is not an archiver catalog copy (not a SQLite database)", subject: path)
        }
        guard header[18] == 1, header[19] == 1 else {
            throw ArchiverError(
                .catalog, "this catalog copy is in WAL mode; a recovery copy must be one self-contained file",
                subject: path)
        }
        var config = Configuration()
        config.readonly = true
        config.label = "archiver.catalog.untrusted"
        config.prepareDatabase { db in try SQLiteHardening.harden(db, path: path) }
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw ArchiverError(
                        .catalog, "this catalog copy is damaged: \(check.prefix(3).joined(separator: "; "))",
                        subject: path)
                }
                try checkSchema(db, path: path)
            }
            return Catalog(path: path, database: queue, readOnly: true)
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            throw ArchiverError(
                .catalog, "this catalog copy is damaged (\(error.message ?? "\(error.resultCode)"))", subject: path,
                cause: error)
        } catch {
            throw mapError(error, "opening the catalog copy", path: path)
        }
    }

    /// Compares the copy's schema with one this build creates at some migration level (a copy an older archiver
    /// stored must still restore), and its recorded migrations with that level's.
    private static func checkSchema(_ db: Database, path: String) throws {
        let levels = try CatalogSchema.expectedSchemas()
        let actual = try CatalogSchema.objects(db)
        guard let newest = levels.last else {
            throw ArchiverError(.internalError, "the catalog has no migrations")
        }
        let level = levels.lastIndex { $0.objects == actual }
        let expected = level.map { levels[$0] } ?? newest
        if level == nil {
            let want = Set(expected.objects)
            let have = Set(actual)
            let expectedByKey = Dictionary(
                expected.objects.map { ("\($0.type) \($0.name)", $0) }, uniquingKeysWith: { first, _ in first })
            var differences: [String] = []
            for object in actual where !want.contains(object) {
                differences.append(
                    expectedByKey["\(object.type) \(object.name)"] == nil ? "extra \(object)" : "different \(object)")
            }
            let actualKeys = Set(actual.map { "\($0.type) \($0.name)" })
            for object in expected.objects
            where !have.contains(object) && !actualKeys.contains("\(object.type) \(object.name)") {
                differences.append("missing \(object)")
            }
            throw ArchiverError(
                .catalog,
                "this file does not have archiver's schema (\(differences.prefix(5).joined(separator: "; "))); "
                    + "refusing to use it",
                subject: path)
        }
        let recorded = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
        guard let level, recorded == levels[...level].map(\.identifier).sorted() else {
            throw ArchiverError(
                .catalog,
                "this file does not have archiver's schema (migrations \(recorded.joined(separator: ", ")) recorded); "
                    + "refusing to use it",
                subject: path)
        }
    }
}

/// Connection settings for a database file nobody vouches for.
enum SQLiteHardening {
    /// `SQLITE_DBCONFIG_DEFENSIVE` in sqlite3.h (since SQLite 3.26).
    private static let dbconfigDefensive: Int32 = 1010

    /// `sqlite3_db_config(db, op, int, int*)`. The real function is C-variadic, which Swift cannot call; where
    /// the C calling convention passes these arguments the same way to a variadic and a fixed-argument function
    /// (Linux on x86_64 and arm64, macOS on x86_64), it is called through this fixed-argument type. Apple arm64
    /// passes variadic arguments on the stack instead, so there it is not called (a C shim would be needed).
    private typealias DBConfigFlag =
        @convention(c) (OpaquePointer?, Int32, Int32, UnsafeMutablePointer<Int32>?) -> Int32

    #if os(Linux) || arch(x86_64)
        static let defensiveModeAvailable = true
    #else
        static let defensiveModeAvailable = false
    #endif

    static func harden(_ db: Database, path: String) throws {
        if defensiveModeAvailable {
            guard let connection = db.sqliteConnection, enableDefensive(connection) else {
                throw ArchiverError(.catalog, "could not turn on SQLite's defensive mode", subject: path)
            }
        }
        try db.execute(sql: "PRAGMA trusted_schema = OFF")
        try db.execute(sql: "PRAGMA cell_size_check = ON")
        try db.execute(sql: "PRAGMA query_only = ON")
        guard try Int.fetchOne(db, sql: "PRAGMA trusted_schema") == 0 else {
            throw ArchiverError(.catalog, "could not turn off SQLite's trusted_schema", subject: path)
        }
    }

    /// Turns `SQLITE_DBCONFIG_DEFENSIVE` on and reads it back; true when it is on.
    static func enableDefensive(_ connection: OpaquePointer) -> Bool {
        guard defensiveModeAvailable, let handle = dlopen(nil, RTLD_NOW) else { return false }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "sqlite3_db_config") else { return false }
        let dbConfig = unsafeBitCast(symbol, to: DBConfigFlag.self)
        var state: Int32 = -1
        guard dbConfig(connection, dbconfigDefensive, 1, &state) == 0 else { return false }
        state = -1
        guard dbConfig(connection, dbconfigDefensive, -1, &state) == 0 else { return false }
        return state == 1
    }

    /// Whether defensive mode is on for a connection (for tests).
    static func isDefensive(_ connection: OpaquePointer) -> Bool? {
        guard defensiveModeAvailable, let handle = dlopen(nil, RTLD_NOW) else { return nil }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, "sqlite3_db_config") else { return nil }
        var state: Int32 = -1
        guard unsafeBitCast(symbol, to: DBConfigFlag.self)(connection, dbconfigDefensive, -1, &state) == 0 else {
            return nil
        }
        return state == 1
    }
}

extension Catalog {
    /// Whether this catalog's connection runs with SQLite's defensive mode on; nil where it cannot be asked.
    func defensiveModeIsOn() throws -> Bool? {
        try read("reading the connection's settings") { db in
            db.sqliteConnection.flatMap(SQLiteHardening.isDefensive)
        }
    }

    /// `PRAGMA integrity_check`'s findings, `["ok"]` when the database is sound. Slow on a large catalog: it
    /// reads every page.
    public func integrityCheck() throws -> [String] {
        try read("checking the catalog") { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}
