import Foundation
import GRDB

/// An upload begun on a backend that wants digests first, recorded so a killed run can resume it.
///
/// It holds the per-object secret that regenerates the identical bytes, so it is erased as soon as the content it
/// became is recorded (`erasePendingUploads`).
public struct PendingUpload: Sendable, Equatable {
    /// Where the file is: repository, source and path.
    public var repositoryID: String
    /// The source's remote name.
    public var source: String
    /// The file's path in the source, as bytes.
    public var path: [UInt8]
    /// Which segment of the file (0 for files stored as one object).
    public var segment: Int
    /// The object's name on the backend.
    public var objectName: String
    /// The source file's size, mtime, ctime and inode when pass 1 read it; a resumed upload needs them unchanged.
    public var fingerprint: String
    /// The per-object secret.
    public var secret: [UInt8]
    /// The payload compression, as the catalog names it (`gzip:6`).
    public var compression: String
    /// The recipients, sorted and joined by newlines.
    public var recipients: String
    /// The pipeline's format id.
    public var formatID: String
    /// Which plaintext bytes of the file the object holds.
    public var plaintextOffset: Int64
    /// How many.
    public var plaintextSize: Int64
    /// Their SHA-256.
    public var plaintextSHA256: [UInt8]
    /// The object's size.
    public var storedSize: Int64
    /// The object's MD5.
    public var storedMD5: [UInt8]
    /// The object's SHA-256.
    public var storedSHA256: [UInt8]
    /// MD5 of the object's first 256 KiB.
    public var headMD5: [UInt8]
    /// The backend's slice size.
    public var sliceSize: Int
    /// MD5 of every slice.
    public var sliceMD5s: [[UInt8]]
    /// The backend's last checkpoint, nil before the session opened.
    public var checkpoint: String?

    /// Creates a record.
    public init(
        repositoryID: String, source: String, path: [UInt8], segment: Int, objectName: String, fingerprint: String,
        secret: [UInt8], compression: String, recipients: String, formatID: String, plaintextOffset: Int64,
        plaintextSize: Int64, plaintextSHA256: [UInt8], storedSize: Int64, storedMD5: [UInt8],
        storedSHA256: [UInt8], headMD5: [UInt8], sliceSize: Int, sliceMD5s: [[UInt8]], checkpoint: String? = nil
    ) {
        self.repositoryID = repositoryID
        self.source = source
        self.path = path
        self.segment = segment
        self.objectName = objectName
        self.fingerprint = fingerprint
        self.secret = secret
        self.compression = compression
        self.recipients = recipients
        self.formatID = formatID
        self.plaintextOffset = plaintextOffset
        self.plaintextSize = plaintextSize
        self.plaintextSHA256 = plaintextSHA256
        self.storedSize = storedSize
        self.storedMD5 = storedMD5
        self.storedSHA256 = storedSHA256
        self.headMD5 = headMD5
        self.sliceSize = sliceSize
        self.sliceMD5s = sliceMD5s
        self.checkpoint = checkpoint
    }
}

extension Catalog {
    /// The pending upload of one segment of one file, if an earlier run left one.
    public func pendingUpload(repositoryID: String, source: String, path: [UInt8], segment: Int) throws
        -> PendingUpload?
    {
        try read("reading a pending upload") { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM pending_uploads
                        WHERE repository_id = ? AND source = ? AND path = ? AND segment = ?
                        """,
                    arguments: [repositoryID, source, Data(path), segment])
            else { return nil }
            let slices = [UInt8](row["slice_md5s"] as Data)
            return PendingUpload(
                repositoryID: row["repository_id"], source: row["source"], path: [UInt8](row["path"] as Data),
                segment: row["segment"], objectName: row["object_name"], fingerprint: row["fingerprint"],
                secret: [UInt8](row["secret"] as Data), compression: row["compression"],
                recipients: row["recipients"], formatID: row["format_id"], plaintextOffset: row["plaintext_offset"],
                plaintextSize: row["plaintext_size"], plaintextSHA256: [UInt8](row["plaintext_sha256"] as Data),
                storedSize: row["stored_size"], storedMD5: [UInt8](row["stored_md5"] as Data),
                storedSHA256: [UInt8](row["stored_sha256"] as Data), headMD5: [UInt8](row["head_md5"] as Data),
                sliceSize: row["slice_size"],
                sliceMD5s: stride(from: 0, to: slices.count, by: 16).map { Array(slices[$0..<$0 + 16]) },
                checkpoint: row["checkpoint"])
        }
    }

    /// Records a pending upload before its session opens, replacing an older one of the same segment.
    public func savePendingUpload(_ upload: PendingUpload) throws {
        try write("recording a pending upload") { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO pending_uploads (
                        repository_id, source, path, segment, object_name, fingerprint, secret, compression,
                        recipients, format_id, plaintext_offset, plaintext_size, plaintext_sha256, stored_size,
                        stored_md5, stored_sha256, head_md5, slice_size, slice_md5s, checkpoint, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    upload.repositoryID, upload.source, Data(upload.path), upload.segment, upload.objectName,
                    upload.fingerprint, Data(upload.secret), upload.compression, upload.recipients, upload.formatID,
                    upload.plaintextOffset, upload.plaintextSize, Data(upload.plaintextSHA256), upload.storedSize,
                    Data(upload.storedMD5), Data(upload.storedSHA256), Data(upload.headMD5), upload.sliceSize,
                    Data(upload.sliceMD5s.flatMap { $0 }), upload.checkpoint, Self.now(),
                ])
        }
    }

    /// Saves the backend's latest checkpoint of a pending upload.
    public func checkpointPendingUpload(
        repositoryID: String, source: String, path: [UInt8], segment: Int, checkpoint: String
    ) throws {
        try write("recording upload progress") { db in
            try db.execute(
                sql: """
                    UPDATE pending_uploads SET checkpoint = ?, updated_at = ?
                    WHERE repository_id = ? AND source = ? AND path = ? AND segment = ?
                    """,
                arguments: [checkpoint, Self.now(), repositoryID, source, Data(path), segment])
        }
    }

    /// Erases every pending upload of a file (its content is recorded, or its upload was given up), then
    /// checkpoints the WAL so the erased secrets leave the log too.
    /// - Parameter segment: one segment only, or nil for all of the file's.
    public func erasePendingUploads(repositoryID: String, source: String, path: [UInt8], segment: Int? = nil) throws {
        let erased = try write("erasing pending uploads") { db in
            try db.execute(
                sql: """
                    DELETE FROM pending_uploads
                    WHERE repository_id = ? AND source = ? AND path = ? AND (? IS NULL OR segment = ?)
                    """,
                arguments: [repositoryID, source, Data(path), segment, segment])
            return db.changesCount
        }
        guard erased > 0 else { return }
        truncateLog()
    }

    /// Checkpoints and truncates the WAL, so erased secrets leave the log too. Best effort: a reader holding an
    /// old snapshot can keep the log from being truncated this time.
    func truncateLog() {
        try? database.writeWithoutTransaction { db in
            _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// How many uploads wait to be resumed in a repository.
    public func pendingUploadCount(repositoryID: String) throws -> Int {
        try read("counting pending uploads") { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM pending_uploads WHERE repository_id = ?", arguments: [repositoryID])
                ?? 0
        }
    }
}
