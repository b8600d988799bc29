public import Foundation
import GRDB

extension Catalog {
    // MARK: Deduplication

    /// Stored copies of a plaintext in one repository, newest first, leaving out any with an object verify found
    /// missing or bad. The engine still checks that the recipients cover the current ones and the compression
    /// suits it before reusing one.
    public func findContent(repositoryID: String, plaintextSHA256: [UInt8], plaintextSize: Int64, encrypted: Bool)
        throws -> [ContentRecord]
    {
        try read("looking up stored contents") { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                    SELECT \(CatalogColumns.content) FROM contents c
                    WHERE c.repository_id = ? AND c.plaintext_sha256 = ? AND c.plaintext_size = ? AND c.encrypted = ?
                        AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.content_id = c.id AND o.damaged_at IS NOT NULL)
                    ORDER BY c.id DESC
                    """),
                arguments: [repositoryID, Data(plaintextSHA256), plaintextSize, encrypted]
            ).map(ContentRecord.init(row:))
        }
    }

    /// Whether any intact content of this size exists: a cheap hint that hashing a file first may find a duplicate.
    public func hasContent(repositoryID: String, plaintextSize: Int64, encrypted: Bool) throws -> Bool {
        try read("looking up stored contents") { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: """
                    SELECT EXISTS (SELECT 1 FROM contents c
                        WHERE c.repository_id = ? AND c.plaintext_size = ? AND c.encrypted = ?)
                    """),
                arguments: [repositoryID, plaintextSize, encrypted]) ?? false
        }
    }

    // MARK: Recording

    /// Records a stored content and its objects in one transaction; returns the content's id.
    ///
    /// Call it only after the backend confirmed every object. Checks: at least one object; segments numbered
    /// 0, 1, ... whose plaintext ranges tile `[0, plaintextSize)`; hash lengths; recipients present exactly when
    /// encrypted; compression `none`, `gzip:1`…`gzip:9` or `zstd:1`…`zstd:19`; the run is running, real, and of
    /// the same repository; object names unused in the repository (a reused name would mean an upload overwrote
    /// another object). The content's stored size is the sum of its objects'.
    @discardableResult
    public func recordContent(_ content: NewContent, objects: [NewObject]) throws -> Int64 {
        try Self.validate(content, objects: objects)
        return try write("recording a stored content") { db in
            try requireRecordingRun(db, content.runID, repositoryID: content.repositoryID)
            return try insertContent(db, content, objects: objects)
        }
    }

    /// Inserts a validated content and its objects inside the caller's transaction; returns the content's id.
    /// Shared by `recordContent` (a running backup) and `adoptPendingUpload` (`check --repair`).
    func insertContent(_ db: Database, _ content: NewContent, objects: [NewObject]) throws -> Int64 {
        let recipients = content.recipients.sorted().joined(separator: "\n")
        let storedSize = objects.reduce(Int64(0)) { $0 + $1.storedSize }
        // Once per stored file: cached statements skip compiling (and authorizing) them each time.
        try db.cachedStatement(
            sql: """
                INSERT INTO contents (repository_id, plaintext_sha256, plaintext_size, encrypted, recipients,
                    compression, format_id, stored_size, created_run)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                content.repositoryID, Data(content.plaintextSHA256), content.plaintextSize, content.encrypted,
                recipients, content.compression, content.formatID, storedSize, content.runID,
            ])
        let contentID = db.lastInsertedRowID
        for object in objects {
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM objects WHERE repository_id = ? AND name = ?"),
                arguments: [content.repositoryID, object.name]) ?? false
            {
                throw ArchiverError(
                    .internalError,
                    "object name \(object.name) is already recorded in repository \(content.repositoryID)",
                    subject: path)
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO objects (repository_id, content_id, segment, name, stored_size, stored_md5,
                        stored_sha256, plaintext_offset, plaintext_size)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    content.repositoryID, contentID, object.segment, object.name, object.storedSize,
                    object.storedMD5.map { Data($0) }, Data(object.storedSHA256), object.plaintextOffset,
                    object.plaintextSize,
                ])
        }
        return contentID
    }

    /// One content, or nil.
    public func content(id: Int64) throws -> ContentRecord? {
        try read("reading content \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT \(CatalogColumns.content) FROM contents WHERE id = ?", arguments: [id])
                .map(ContentRecord.init(row:))
        }
    }

    // MARK: Objects

    /// A content's objects, ordered by segment.
    public func objects(contentID: Int64) throws -> [ObjectRecord] {
        try read("listing objects") { db in
            try Row.fetchAll(
                db, sql: "SELECT \(CatalogColumns.object) FROM objects WHERE content_id = ? ORDER BY segment",
                arguments: [contentID]
            ).map(ObjectRecord.init(row:))
        }
    }

    /// The object recorded under `name` in a repository, or nil: lets the engine make sure a name is fresh before
    /// it uploads (an upload to a used name would destroy a recorded object).
    public func object(repositoryID: String, name: String) throws -> ObjectRecord? {
        try read("looking up object \(name)") { db in
            try Row.fetchOne(
                db, sql: "SELECT \(CatalogColumns.object) FROM objects WHERE repository_id = ? AND name = ?",
                arguments: [repositoryID, name]
            ).map(ObjectRecord.init(row:))
        }
    }

    /// Calls `body` with every object of a repository in id order, reading a page at a time in short read
    /// transactions; `body` runs outside them, so it may write (`markVerified`) and take as long as it needs.
    /// Objects recorded meanwhile with higher ids are included. (`+repository_id` keeps SQLite on the primary key,
    /// so each page is a seek instead of a sort of every object.)
    public func forEachObject(repositoryID: String, _ body: (ObjectRecord) throws -> Void) throws {
        var after: Int64 = 0
        while true {
            let page = try read("listing objects") { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(CatalogColumns.object) FROM objects WHERE +repository_id = ? AND id > ?
                        ORDER BY id LIMIT ?
                        """,
                    arguments: [repositoryID, after, Self.pageSize]
                ).map(ObjectRecord.init(row:))
            }
            for object in page { try body(object) }
            guard let last = page.last, page.count == Self.pageSize else { return }
            after = last.id
        }
    }

    /// Calls `body` for every object of a repository, a page at a time, awaiting each call (a download may take
    /// long; no read transaction stays open meanwhile). `byName` orders by name in byte order, as backends list,
    /// for merging with a listing; otherwise objects come in the order they were recorded.
    public func forEachObject(
        repositoryID: String, byName: Bool, _ body: (ObjectRecord) async throws -> Void
    ) async throws {
        var afterID: Int64 = 0
        var afterName = ""
        while true {
            let page = try read("listing objects") { db in
                try Row.fetchAll(
                    db,
                    sql: byName
                        ? """
                        SELECT \(CatalogColumns.object) FROM objects WHERE repository_id = ? AND name > ?
                        ORDER BY name LIMIT ?
                        """
                        : """
                        SELECT \(CatalogColumns.object) FROM objects WHERE +repository_id = ? AND id > ?
                        ORDER BY id LIMIT ?
                        """,
                    arguments: byName
                        ? [repositoryID, afterName, Self.pageSize] : [repositoryID, afterID, Self.pageSize]
                ).map(ObjectRecord.init(row:))
            }
            for object in page { try await body(object) }
            guard let last = page.last, page.count == Self.pageSize else { return }
            afterID = last.id
            afterName = last.name
        }
    }

    /// Records a successful verification: `deep` means downloaded, decrypted and hashed (which also counts as
    /// the shallow check); otherwise the object was found with the right size.
    public func markVerified(objectID: Int64, deep: Bool, at: Date) throws {
        let time = Self.nanoseconds(at)
        try write("recording a verification") { db in
            try db.execute(
                sql: """
                    UPDATE objects SET verified_at = ?, deep_verified_at = CASE WHEN ? THEN ? ELSE deep_verified_at END
                    WHERE id = ?
                    """,
                arguments: [time, deep, time, objectID])
            guard db.changesCount == 1 else {
                throw ArchiverError(.internalError, "object \(objectID) does not exist", subject: path)
            }
        }
    }

    /// Records that verify found an object missing or bad. Its content is then never reused for deduplication,
    /// and `currentEntries` flags the files that use it so the next backup stores them again.
    public func markDamaged(objectID: Int64, at: Date) throws {
        try write("recording a damaged object") { db in
            try db.execute(
                sql: "UPDATE objects SET damaged_at = ? WHERE id = ?", arguments: [Self.nanoseconds(at), objectID])
            guard db.changesCount == 1 else {
                throw ArchiverError(.internalError, "object \(objectID) does not exist", subject: path)
            }
        }
    }

    // MARK: Checks

    static func validate(_ content: NewContent, objects: [NewObject]) throws {
        func refuse(_ message: String) -> ArchiverError {
            ArchiverError(.internalError, "refusing to record a content: \(message)")
        }
        guard content.plaintextSHA256.count == 32 else { throw refuse("the plaintext SHA-256 must be 32 bytes") }
        guard content.plaintextSize >= 0 else { throw refuse("negative plaintext size") }
        guard !content.formatID.isEmpty else { throw refuse("no format id") }
        guard PayloadCompression.isValidCatalogName(content.compression) else {
            throw refuse(
                "compression '\(content.compression)' is not 'none', 'gzip:1'…'gzip:9' or 'zstd:1'…'zstd:19'")
        }
        if content.encrypted {
            guard !content.recipients.isEmpty else { throw refuse("encrypted but no recipients") }
        } else {
            guard content.recipients.isEmpty else { throw refuse("recipients given but not encrypted") }
        }
        for recipient in content.recipients where recipient.isEmpty || recipient.contains(where: \.isNewline) {
            throw refuse("recipient '\(recipient)' is empty or contains a line break")
        }
        guard !objects.isEmpty else { throw refuse("no objects (an empty file is recorded with no content)") }
        var offset: Int64 = 0
        for (index, object) in objects.enumerated() {
            guard object.segment == index else { throw refuse("segments must be numbered 0, 1, ... in order") }
            guard !object.name.isEmpty else { throw refuse("segment \(index) has no object name") }
            guard object.storedSHA256.count == 32 else { throw refuse("segment \(index): SHA-256 must be 32 bytes") }
            guard object.storedMD5.map({ $0.count == 16 }) ?? true else {
                throw refuse("segment \(index): MD5 must be 16 bytes")
            }
            guard object.storedSize >= 0, object.plaintextSize >= 0 else {
                throw refuse("segment \(index): negative size")
            }
            guard object.plaintextOffset == offset else {
                throw refuse("segment \(index) starts at \(object.plaintextOffset), expected \(offset)")
            }
            offset += object.plaintextSize
        }
        guard offset == content.plaintextSize else {
            throw refuse("segments hold \(offset) plaintext bytes, the content \(content.plaintextSize)")
        }
    }
}
