public import Foundation

// The values the catalog takes and returns. Paths are bytes throughout: `dir` is the parent's path relative to the
// source root (`/`-separated, empty for the root) and `name` the last component, exactly as the file system gave
// them. `display` is a lossy UTF-8 rendering for people and is never used to find anything.

/// How a run ended, or that it has not ended yet.
public enum RunStatus: String, Sendable, Hashable, CaseIterable {
    /// Still going, or its process died; the next `beginRun` marks leftovers `interrupted`.
    case running
    /// Every source was walked and every file stored or found unchanged.
    case completed
    /// Every source was walked but some files failed.
    case partial
    /// The run could not go on (the remote refused, the catalog failed, ...).
    case failed
    /// Stopped by a signal, or found still `running` after its process went away.
    case interrupted
}

/// What a run did, as counted by the engine.
public struct RunCounts: Sendable, Hashable {
    /// Entries (files, folders, symlinks) looked at.
    public var filesSeen: Int64
    /// Files whose bytes were uploaded.
    public var stored: Int64
    /// Files found unchanged since their current version.
    public var unchanged: Int64
    /// Files whose bytes were already stored (recorded without an upload).
    public var deduplicated: Int64
    /// Files that could not be stored.
    public var failed: Int64
    /// Plaintext bytes read from the sources.
    public var bytesRead: Int64
    /// Bytes uploaded to the remote.
    public var bytesStored: Int64

    /// Creates counts; all zero by default.
    public init(
        filesSeen: Int64 = 0, stored: Int64 = 0, unchanged: Int64 = 0, deduplicated: Int64 = 0, failed: Int64 = 0,
        bytesRead: Int64 = 0, bytesStored: Int64 = 0
    ) {
        self.filesSeen = filesSeen
        self.stored = stored
        self.unchanged = unchanged
        self.deduplicated = deduplicated
        self.failed = failed
        self.bytesRead = bytesRead
        self.bytesStored = bytesStored
    }
}

/// One backup run as recorded.
public struct RunRecord: Sendable, Hashable {
    /// The run's id; ids grow with time, which is what makes "the state as of run R" well defined.
    public var id: Int64
    /// The repository (target) the run wrote to.
    public var repositoryID: String
    /// When the run began.
    public var startedAt: Date
    /// When the run ended; nil while running and for runs found abandoned.
    public var finishedAt: Date?
    /// How it ended.
    public var status: RunStatus
    /// Whether it was a dry run (which records no versions or contents).
    public var dryRun: Bool
    /// What it did.
    public var counts: RunCounts
}

/// The kind of a source entry.
public enum EntryKind: String, Sendable, Hashable, CaseIterable {
    /// A regular file.
    case file
    /// A folder.
    case dir
    /// A symbolic link (its target is recorded, never followed).
    case symlink
}

/// A current version as change detection needs it: one row per entry of one folder.
public struct CatalogEntry: Sendable, Hashable {
    /// The last path component, as bytes.
    public var name: [UInt8]
    /// File, folder or symlink.
    public var kind: EntryKind
    /// Size in bytes (files; 0 otherwise unless the engine records something else).
    public var size: Int64
    /// Modification time, nanoseconds since 1970.
    public var mtimeNs: Int64
    /// Status change time, nanoseconds since 1970.
    public var ctimeNs: Int64
    /// Inode number.
    public var inode: UInt64
    /// Mode bits (`st_mode`).
    public var mode: UInt32
    /// Owner.
    public var uid: UInt32
    /// Group.
    public var gid: UInt32
    /// A symlink's target bytes.
    public var linkTarget: [UInt8]?
    /// The version's id.
    public var versionID: Int64
    /// The stored content, nil for folders, symlinks and empty files.
    public var contentID: Int64?
    /// True when verify found one of the content's objects missing or bad: the file must be stored again even
    /// though it did not change.
    public var contentDamaged: Bool
    /// When the run that recorded this version started (ns since 1970): an mtime this recent is not trusted.
    public var recordedRunStartNs: Int64?
}

/// A stored copy of some plaintext, about to be recorded. Its stored size is the sum of its objects' sizes.
public struct NewContent: Sendable, Hashable {
    /// The repository the objects were stored in.
    public var repositoryID: String
    /// The run that stored them.
    public var runID: Int64
    /// SHA-256 of the plaintext (32 bytes).
    public var plaintextSHA256: [UInt8]
    /// Plaintext size in bytes.
    public var plaintextSize: Int64
    /// Whether the objects are age-encrypted.
    public var encrypted: Bool
    /// The age recipients (`age1…`) the objects were encrypted to; empty when not encrypted.
    public var recipients: [String]
    /// `none`, `gzip:N` or `zstd:N`.
    public var compression: String
    /// The object format's identifier, so restore knows how to read the bytes.
    public var formatID: String

    /// Creates a content description.
    public init(
        repositoryID: String, runID: Int64, plaintextSHA256: [UInt8], plaintextSize: Int64, encrypted: Bool,
        recipients: [String], compression: String, formatID: String
    ) {
        self.repositoryID = repositoryID
        self.runID = runID
        self.plaintextSHA256 = plaintextSHA256
        self.plaintextSize = plaintextSize
        self.encrypted = encrypted
        self.recipients = recipients
        self.compression = compression
        self.formatID = formatID
    }
}

/// One stored object (segment) of a content, about to be recorded. Record only objects the backend confirmed.
public struct NewObject: Sendable, Hashable {
    /// 0, 1, ... in plaintext order.
    public var segment: Int
    /// The object's name on the backend; unique within the repository.
    public var name: String
    /// Stored bytes.
    public var storedSize: Int64
    /// MD5 of the stored bytes (16 bytes), when the backend needed it.
    public var storedMD5: [UInt8]?
    /// SHA-256 of the stored bytes (32 bytes).
    public var storedSHA256: [UInt8]
    /// Where this segment's plaintext starts.
    public var plaintextOffset: Int64
    /// How much plaintext it holds.
    public var plaintextSize: Int64

    /// Creates an object description.
    public init(
        segment: Int, name: String, storedSize: Int64, storedMD5: [UInt8]? = nil, storedSHA256: [UInt8],
        plaintextOffset: Int64, plaintextSize: Int64
    ) {
        self.segment = segment
        self.name = name
        self.storedSize = storedSize
        self.storedMD5 = storedMD5
        self.storedSHA256 = storedSHA256
        self.plaintextOffset = plaintextOffset
        self.plaintextSize = plaintextSize
    }
}

/// A source entry as seen by a run, about to be recorded as its new current version.
public struct NewVersion: Sendable, Hashable {
    /// Parent folder relative to the source root, bytes, empty for the root.
    public var dir: [UInt8]
    /// Last component, bytes.
    public var name: [UInt8]
    /// Lossy UTF-8 of the whole relative path, for people.
    public var display: String
    /// File, folder or symlink.
    public var kind: EntryKind
    /// Size in bytes.
    public var size: Int64
    /// Modification time, nanoseconds since 1970.
    public var mtimeNs: Int64
    /// Status change time, nanoseconds since 1970.
    public var ctimeNs: Int64
    /// Inode number.
    public var inode: UInt64
    /// Mode bits.
    public var mode: UInt32
    /// Owner.
    public var uid: UInt32
    /// Group.
    public var gid: UInt32
    /// A symlink's target (required for symlinks, nil otherwise).
    public var linkTarget: [UInt8]?
    /// The content holding a file's bytes; nil for folders, symlinks and empty files.
    public var contentID: Int64?

    /// Creates a version description.
    public init(
        dir: [UInt8], name: [UInt8], display: String, kind: EntryKind, size: Int64, mtimeNs: Int64, ctimeNs: Int64,
        inode: UInt64, mode: UInt32, uid: UInt32, gid: UInt32, linkTarget: [UInt8]? = nil, contentID: Int64?
    ) {
        self.dir = dir
        self.name = name
        self.display = display
        self.kind = kind
        self.size = size
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.inode = inode
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.linkTarget = linkTarget
        self.contentID = contentID
    }
}

/// A recorded content: one logical stored copy of some plaintext.
public struct ContentRecord: Sendable, Hashable {
    /// Its id.
    public var id: Int64
    /// The repository holding its objects.
    public var repositoryID: String
    /// SHA-256 of the plaintext.
    public var plaintextSHA256: [UInt8]
    /// Plaintext size.
    public var plaintextSize: Int64
    /// Whether its objects are age-encrypted.
    public var encrypted: Bool
    /// The recipients it was encrypted to, sorted.
    public var recipients: [String]
    /// `none`, `gzip:N` or `zstd:N`.
    public var compression: String
    /// The object format's identifier.
    public var formatID: String
    /// Stored bytes over all segments.
    public var storedSize: Int64
    /// The run that stored it.
    public var createdRun: Int64
}

/// A recorded physical object.
public struct ObjectRecord: Sendable, Hashable {
    /// Its id.
    public var id: Int64
    /// The repository holding it.
    public var repositoryID: String
    /// The content it is a segment of.
    public var contentID: Int64
    /// Segment number, from 0.
    public var segment: Int
    /// The name on the backend.
    public var name: String
    /// Stored bytes.
    public var storedSize: Int64
    /// MD5 of the stored bytes, when recorded.
    public var storedMD5: [UInt8]?
    /// SHA-256 of the stored bytes.
    public var storedSHA256: [UInt8]
    /// Where its plaintext starts.
    public var plaintextOffset: Int64
    /// How much plaintext it holds.
    public var plaintextSize: Int64
    /// When verify last saw it present with the right size.
    public var verifiedAt: Date?
    /// When verify last downloaded, decrypted and hashed it successfully.
    public var deepVerifiedAt: Date?
    /// When verify found it missing or bad; the content is then no longer used for deduplication.
    public var damagedAt: Date?
}

/// A recorded version of one path.
public struct VersionRecord: Sendable, Hashable {
    /// Its id.
    public var id: Int64
    /// The repository.
    public var repositoryID: String
    /// The source's remote prefix.
    public var source: String
    /// Parent folder bytes.
    public var dir: [UInt8]
    /// Last component bytes.
    public var name: [UInt8]
    /// For people.
    public var display: String
    /// File, folder or symlink.
    public var kind: EntryKind
    /// Size in bytes.
    public var size: Int64
    /// Modification time, nanoseconds since 1970.
    public var mtimeNs: Int64
    /// Status change time, nanoseconds since 1970.
    public var ctimeNs: Int64
    /// Inode number.
    public var inode: UInt64
    /// Mode bits.
    public var mode: UInt32
    /// Owner.
    public var uid: UInt32
    /// Group.
    public var gid: UInt32
    /// A symlink's target.
    public var linkTarget: [UInt8]?
    /// The content, nil for folders, symlinks and empty files.
    public var contentID: Int64?
    /// The run that recorded it.
    public var firstRun: Int64
    /// The run that replaced or deleted it; nil while current.
    public var endRun: Int64?
    /// When its first run started.
    public var firstRunStartedAt: Date
    /// When its first run finished, if it did.
    public var firstRunFinishedAt: Date?

    /// The path relative to the source root, as bytes (`dir/name`, or `name` at the root).
    public var path: [UInt8] { BytePath.join(dir, name) }
}

/// One entry of a restore: the version and, for stored files, its content and objects in segment order.
public struct RestoreItem: Sendable, Hashable {
    /// The version alive at the requested run.
    public var version: VersionRecord
    /// Its content, nil when there is none.
    public var content: ContentRecord?
    /// The content's objects ordered by segment; empty when there is no content.
    public var objects: [ObjectRecord]
}

/// A path that failed in consecutive runs.
public struct FailureStreak: Sendable, Hashable {
    /// The repository.
    public var repositoryID: String
    /// The source's remote prefix.
    public var source: String
    /// Parent folder bytes.
    public var dir: [UInt8]
    /// Last component bytes.
    public var name: [UInt8]
    /// For people.
    public var display: String
    /// How many runs in a row it failed in.
    public var count: Int
    /// The last run it failed in.
    public var lastRun: Int64
    /// The last failure's message.
    public var message: String
}

/// One failure recorded by a run.
public struct FailureRecord: Sendable, Hashable {
    /// Its id.
    public var id: Int64
    /// The run.
    public var runID: Int64
    /// The repository.
    public var repositoryID: String
    /// The source's remote prefix.
    public var source: String
    /// Parent folder bytes.
    public var dir: [UInt8]
    /// Last component bytes.
    public var name: [UInt8]
    /// For people.
    public var display: String
    /// What went wrong.
    public var message: String
    /// When.
    public var at: Date
}

/// Totals for one repository.
public struct CatalogStats: Sendable, Hashable {
    /// Current versions (files, folders and symlinks).
    public var currentVersions: Int64
    /// Current file versions.
    public var currentFiles: Int64
    /// Sum of the current files' sizes.
    public var currentFileBytes: Int64
    /// Recorded contents.
    public var contents: Int64
    /// Recorded objects.
    public var objects: Int64
    /// Sum of the objects' stored sizes.
    public var storedBytes: Int64
    /// Objects verify found missing or bad.
    public var damagedObjects: Int64
    /// The newest run of any status.
    public var lastRun: RunRecord?
    /// The newest completed run that was not a dry run.
    public var lastCompletedRun: RunRecord?
}
