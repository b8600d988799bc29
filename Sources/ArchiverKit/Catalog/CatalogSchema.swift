import GRDB

/// The catalog's schema, as migrations.
///
/// The SQL is written out rather than built with GRDB's table builder: `openUntrusted` compares a copy's
/// `sqlite_master` text with what these migrations produce, and a builder whose output changed between GRDB
/// releases would make every older recovery copy look foreign.
///
/// Conventions: tables are STRICT, so a path can never be stored as TEXT by mistake (TEXT and BLOB values sort
/// apart in SQLite, which would break the byte-prefix ranges); times are INTEGER nanoseconds since 1970 (UTC);
/// booleans are 0/1 with CHECKs.
enum CatalogSchema {
    /// Migration identifiers this build knows, oldest first.
    static var migrationIdentifiers: [String] { migrator.migrations }

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2 pending uploads") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3 versions by content") { db in
            try db.execute(sql: v3)
        }
        return migrator
    }()

    private static let v1 = """
        CREATE TABLE repositories (
            id TEXT NOT NULL PRIMARY KEY,
            spec TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'completed', 'partial', 'failed', 'interrupted')),
            dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
            files_seen INTEGER NOT NULL DEFAULT 0,
            stored INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            deduplicated INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            bytes_read INTEGER NOT NULL DEFAULT 0,
            bytes_stored INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX runs_by_repository ON runs(repository_id, id);

        CREATE TABLE contents (
            id INTEGER PRIMARY KEY,
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            plaintext_sha256 BLOB NOT NULL CHECK (length(plaintext_sha256) = 32),
            plaintext_size INTEGER NOT NULL CHECK (plaintext_size >= 0),
            encrypted INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
            recipients TEXT NOT NULL,
            compression TEXT NOT NULL,
            format_id TEXT NOT NULL,
            stored_size INTEGER NOT NULL CHECK (stored_size >= 0),
            created_run INTEGER NOT NULL REFERENCES runs(id)
        ) STRICT;
        CREATE INDEX contents_by_plaintext ON contents(repository_id, plaintext_sha256, plaintext_size);
        CREATE INDEX contents_by_size ON contents(repository_id, plaintext_size);

        CREATE TABLE objects (
            id INTEGER PRIMARY KEY,
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            content_id INTEGER NOT NULL REFERENCES contents(id),
            segment INTEGER NOT NULL CHECK (segment >= 0),
            name TEXT NOT NULL,
            stored_size INTEGER NOT NULL CHECK (stored_size >= 0),
            stored_md5 BLOB CHECK (stored_md5 IS NULL OR length(stored_md5) = 16),
            stored_sha256 BLOB NOT NULL CHECK (length(stored_sha256) = 32),
            plaintext_offset INTEGER NOT NULL CHECK (plaintext_offset >= 0),
            plaintext_size INTEGER NOT NULL CHECK (plaintext_size >= 0),
            verified_at INTEGER,
            deep_verified_at INTEGER,
            damaged_at INTEGER,
            UNIQUE (repository_id, name),
            UNIQUE (content_id, segment)
        ) STRICT;

        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            source TEXT NOT NULL,
            dir BLOB NOT NULL,
            name BLOB NOT NULL CHECK (length(name) > 0),
            display TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('file', 'dir', 'symlink')),
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            mode INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            gid INTEGER NOT NULL,
            link_target BLOB,
            content_id INTEGER REFERENCES contents(id),
            first_run INTEGER NOT NULL REFERENCES runs(id),
            end_run INTEGER REFERENCES runs(id),
            confirmed_run INTEGER REFERENCES runs(id),
            CHECK (end_run IS NULL OR end_run > first_run)
        ) STRICT;
        CREATE UNIQUE INDEX versions_current ON versions(repository_id, source, dir, name) WHERE end_run IS NULL;
        CREATE INDEX versions_by_path ON versions(repository_id, source, dir, name, first_run);

        CREATE TABLE failures (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            source TEXT NOT NULL,
            dir BLOB NOT NULL,
            name BLOB NOT NULL,
            display TEXT NOT NULL,
            message TEXT NOT NULL,
            at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX failures_by_run ON failures(run_id);

        CREATE TABLE failure_streaks (
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            source TEXT NOT NULL,
            dir BLOB NOT NULL,
            name BLOB NOT NULL,
            display TEXT NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0),
            last_run INTEGER NOT NULL REFERENCES runs(id),
            message TEXT NOT NULL,
            PRIMARY KEY (repository_id, source, dir, name)
        ) STRICT, WITHOUT ROWID;
        """

    /// Uploads begun on backends that want digests first (Baidu), so a killed run resumes them: the per-object
    /// secret that regenerates the same bytes, pass 1's digests, and the backend's checkpoint. A row goes once the
    /// content is recorded; the catalog runs with `secure_delete` so an erased secret does not linger in free pages.
    private static let v2 = """
        CREATE TABLE pending_uploads (
            repository_id TEXT NOT NULL REFERENCES repositories(id),
            source TEXT NOT NULL,
            path BLOB NOT NULL,
            segment INTEGER NOT NULL CHECK (segment >= 0),
            object_name TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            secret BLOB NOT NULL CHECK (length(secret) = 32),
            compression TEXT NOT NULL,
            recipients TEXT NOT NULL,
            format_id TEXT NOT NULL,
            plaintext_offset INTEGER NOT NULL CHECK (plaintext_offset >= 0),
            plaintext_size INTEGER NOT NULL CHECK (plaintext_size >= 0),
            plaintext_sha256 BLOB NOT NULL CHECK (length(plaintext_sha256) = 32),
            stored_size INTEGER NOT NULL CHECK (stored_size > 0),
            stored_md5 BLOB NOT NULL CHECK (length(stored_md5) = 16),
            stored_sha256 BLOB NOT NULL CHECK (length(stored_sha256) = 32),
            head_md5 BLOB NOT NULL CHECK (length(head_md5) = 16),
            slice_size INTEGER NOT NULL CHECK (slice_size > 0),
            slice_md5s BLOB NOT NULL CHECK (length(slice_md5s) % 16 = 0),
            checkpoint TEXT,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (repository_id, source, path, segment)
        ) STRICT, WITHOUT ROWID;
        """

    /// Which versions reference a content: `forget` deletes a content only when no remaining version does, and
    /// checks that again for each content right before removing its rows. It is also the index SQLite's foreign key
    /// check needs when a content row is deleted (without it, every such delete scans all versions).
    private static let v3 = """
        CREATE INDEX versions_by_content ON versions(content_id);
        """

    /// One row of `sqlite_master`, minus the root page (which depends on the file's history, not its schema).
    struct Object: Hashable, CustomStringConvertible {
        var type: String
        var name: String
        var table: String
        var sql: String?

        var description: String { "\(type) '\(name)'" }
    }

    /// Reads `sqlite_master` in a fixed order.
    static func objects(_ db: Database) throws -> [Object] {
        try Row.fetchAll(db, sql: "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").map {
            try Object(
                type: $0.decode(String.self, atIndex: 0), name: $0.decode(String.self, atIndex: 1),
                table: $0.decode(String.self, atIndex: 2), sql: $0.decode(String?.self, atIndex: 3))
        }
    }

    /// The schema each known migration level produces, oldest first, computed in memory (a few milliseconds).
    static func expectedSchemas() throws -> [(identifier: String, objects: [Object])] {
        try migrationIdentifiers.map { identifier in
            let queue = try DatabaseQueue()
            try migrator.migrate(queue, upTo: identifier)
            return (identifier, try queue.read { try objects($0) })
        }
    }
}
