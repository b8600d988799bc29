public import Foundation
import GRDB

/// An unfinished upload as `archiver check` sees it: a pending upload's plan without its secret.
public struct UnfinishedUpload: Sendable, Equatable {
    /// The source's remote name.
    public var source: String
    /// The file's path in the source, as bytes.
    public var path: [UInt8]
    /// Which segment of the file.
    public var segment: Int
    /// The object's name on the backend.
    public var objectName: String
    /// The file's size when the plan was made (from its fingerprint), if it can be read.
    public var fileSize: Int64?
    /// Which plaintext bytes of the file the object holds.
    public var plaintextOffset: Int64
    /// How many.
    public var plaintextSize: Int64
    /// The object's planned size.
    public var storedSize: Int64
    /// The object's planned SHA-256.
    public var storedSHA256: [UInt8]
    /// When the plan was last written (made, or checkpointed).
    public var updatedAt: Date
    /// Whether the backend's session had begun (a checkpoint was saved).
    public var hasCheckpoint: Bool

    /// The file as people see it: `source/path`.
    public var display: String { "\(source)/\(BytePath.display(path))" }

    /// Whether this one object holds the whole file: only then does the plan carry the file's plaintext SHA-256,
    /// which a recorded content needs. (A segment's plan carries only its segment's.)
    public var coversWholeFile: Bool { plaintextOffset == 0 && fileSize == plaintextSize }
}

/// Which versions use a content: what a missing object costs.
public struct ContentUse: Sendable, Equatable {
    /// Current versions (the next backup can store these files again).
    public var current: Int
    /// Versions of past runs only (nothing can bring their bytes back).
    public var past: Int
    /// One file using it, a current one when there is one.
    public var example: String?
}

extension Catalog {
    // MARK: Unfinished uploads

    /// The plans among `objectNames` (one batch of a listing), without their secrets.
    public func unfinishedUploads(repositoryID: String, objectNames: [String]) throws -> [UnfinishedUpload] {
        guard !objectNames.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: objectNames.count).joined(separator: ", ")
        return try read("looking up unfinished uploads") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.unfinishedColumns) FROM pending_uploads
                    WHERE repository_id = ? AND object_name IN (\(marks))
                    """,
                arguments: StatementArguments([repositoryID] + objectNames)
            ).map(UnfinishedUpload.init(row:))
        }
    }

    /// Calls `body` for every plan of a repository in (source, path, segment) order, a page at a time in short
    /// read transactions, without their secrets.
    public func forEachUnfinishedUpload(repositoryID: String, _ body: (UnfinishedUpload) async throws -> Void)
        async throws
    {
        var after: (source: String, path: Data, segment: Int)?
        while true {
            let page = try read("listing unfinished uploads") { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.unfinishedColumns) FROM pending_uploads
                        WHERE repository_id = ? AND (? IS NULL OR (source, path, segment) > (?, ?, ?))
                        ORDER BY source, path, segment LIMIT ?
                        """,
                    arguments: [
                        repositoryID, after?.source, after?.source, after?.path, after?.segment, Self.pageSize,
                    ]
                ).map(UnfinishedUpload.init(row:))
            }
            for upload in page { try await body(upload) }
            guard let last = page.last, page.count == Self.pageSize else { return }
            after = (last.source, Data(last.path), last.segment)
        }
    }

    /// Records the object of an unfinished upload as stored, from its plan: the object is on the backend with the
    /// planned name, size and SHA-256 (the caller checked), but the run that uploaded it stopped before recording
    /// it. One transaction records the content and its object and erases the plan (and so its secret).
    ///
    /// The content is attributed to the repository's newest run (the plan does not say which run made it). No
    /// version is recorded here: the file's metadata is not in the plan. The next backup hashes the file, finds
    /// this content and records the version without uploading anything.
    /// - Returns: the new content's id.
    /// - Throws: `ArchiverError(.catalog)` when the plan is gone or changed, does not hold the whole file, its
    ///   object is already recorded, or the repository has no run.
    @discardableResult
    public func adoptPendingUpload(repositoryID: String, _ upload: UnfinishedUpload) throws -> Int64 {
        let adopted = try write("adopting the object of \(upload.display)") { db -> Int64 in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT *, checkpoint IS NOT NULL AS has_checkpoint FROM pending_uploads
                        WHERE repository_id = ? AND source = ? AND path = ? AND segment = ? AND object_name = ?
                        """,
                    arguments: [repositoryID, upload.source, Data(upload.path), upload.segment, upload.objectName])
            else {
                throw ArchiverError(
                    .catalog, "the unfinished upload of \(upload.display) is gone (a backup finished it?)",
                    subject: path)
            }
            let plan = try UnfinishedUpload(row: row)
            guard plan.coversWholeFile, plan.storedSHA256 == upload.storedSHA256, plan.storedSize == upload.storedSize
            else {
                throw ArchiverError(
                    .catalog, "the unfinished upload of \(upload.display) cannot be adopted: it holds part of the file",
                    subject: path)
            }
            guard
                let runID = try Int64.fetchOne(
                    db, sql: "SELECT max(id) FROM runs WHERE repository_id = ?", arguments: [repositoryID])
            else {
                throw ArchiverError(.catalog, "repository \(repositoryID) has no run to attribute it to", subject: path)
            }
            let recipients = try row.string("recipients")
            let content = NewContent(
                repositoryID: repositoryID, runID: runID, plaintextSHA256: try row.bytes("plaintext_sha256"),
                plaintextSize: plan.plaintextSize, encrypted: !recipients.isEmpty,
                recipients: recipients.isEmpty ? [] : recipients.split(separator: "\n").map(String.init),
                compression: try row.string("compression"), formatID: try row.string("format_id"))
            let object = NewObject(
                segment: 0, name: plan.objectName, storedSize: plan.storedSize, storedMD5: try row.bytes("stored_md5"),
                storedSHA256: plan.storedSHA256, plaintextOffset: 0, plaintextSize: plan.plaintextSize)
            try Self.validate(content, objects: [object])
            let contentID = try insertContent(db, content, objects: [object])
            try db.execute(
                sql: "DELETE FROM pending_uploads WHERE repository_id = ? AND source = ? AND path = ? AND segment = ?",
                arguments: [repositoryID, upload.source, Data(upload.path), upload.segment])
            return contentID
        }
        truncateLog()
        return adopted
    }

    // MARK: Missing objects

    /// Which versions use each of `contentIDs` (one batch of missing objects). One query for the batch: versions
    /// have no index by content, and missing objects are found in batches so the table is read once per batch.
    public func contentUse(repositoryID: String, contentIDs: [Int64]) throws -> [Int64: ContentUse] {
        let ids = Array(Set(contentIDs))
        guard !ids.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return try read("finding the files of missing objects") { db in
            var uses: [Int64: ContentUse] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT content_id, sum(end_run IS NULL) AS current, sum(end_run IS NOT NULL) AS past,
                        coalesce(min(CASE WHEN end_run IS NULL THEN display END), min(display)) AS example
                    FROM versions WHERE repository_id = ? AND content_id IN (\(marks))
                    GROUP BY content_id
                    """,
                arguments: StatementArguments([repositoryID] + ids.map { $0 as any DatabaseValueConvertible }))
            {
                uses[try row.int64("content_id")] = ContentUse(
                    current: try row.integer("current"), past: try row.integer("past"),
                    example: try row.decode(String?.self, forColumn: "example"))
            }
            return uses
        }
    }

    /// Marks objects found missing (or of the wrong size), in one transaction, as verify marks damaged ones: their
    /// contents are no longer reused, and the current files that use them are stored again by the next backup.
    /// Objects already marked keep their first mark.
    public func markMissing(objectIDs: [Int64], at: Date) throws {
        guard !objectIDs.isEmpty else { return }
        let marks = Array(repeating: "?", count: objectIDs.count).joined(separator: ", ")
        try write("recording missing objects") { db in
            try db.execute(
                sql: "UPDATE objects SET damaged_at = ? WHERE damaged_at IS NULL AND id IN (\(marks))",
                arguments: StatementArguments([Self.nanoseconds(at)] + objectIDs))
        }
    }

    private static let unfinishedColumns = """
        source, path, segment, object_name, fingerprint, plaintext_offset, plaintext_size, stored_size,
        stored_sha256, updated_at, checkpoint IS NOT NULL AS has_checkpoint
        """
}

extension UnfinishedUpload {
    init(row: Row) throws {
        // The fingerprint is `size:mtime:ctime:inode` (BackupEngine.Fingerprint.text).
        let fingerprint = try row.string("fingerprint")
        self.init(
            source: try row.string("source"), path: try row.bytes("path"), segment: try row.integer("segment"),
            objectName: try row.string("object_name"),
            fileSize: fingerprint.split(separator: ":").first.flatMap { Int64($0) },
            plaintextOffset: try row.int64("plaintext_offset"), plaintextSize: try row.int64("plaintext_size"),
            storedSize: try row.int64("stored_size"), storedSHA256: try row.bytes("stored_sha256"),
            updatedAt: try row.date("updated_at"), hasCheckpoint: try row.bool("has_checkpoint"))
    }
}
