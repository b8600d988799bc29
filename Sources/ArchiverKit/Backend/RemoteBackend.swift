public import Foundation

/// What a backend can do; the core plans with it (segmenting, slicing, naming) and never names a backend.
public struct BackendCapabilities: Sendable, Equatable {
    /// Largest object the backend stores; larger objects are stored as numbered segments. nil: no limit.
    public var maxObjectSize: Int64?
    /// Upload slice size when the backend uploads in slices (Baidu: 4, 16 or 32 MiB); nil otherwise.
    public var sliceSize: Int?
    /// Most slices one object may have; nil: no limit.
    public var maxSlices: Int?
    /// The backend needs the MD5 of every slice (and of the whole object and its first 256 KiB) before the first
    /// byte is sent; the core then runs a hashing pass first and regenerates the bytes for the upload.
    public var needsDigestsBeforeUpload: Bool
    /// Whether zero-byte objects can be stored.
    public var allowsEmptyObjects: Bool
    /// Whether `openReader(for:range:)` honours a range without reading from the start.
    public var supportsRangeReads: Bool
    /// Whether names differing only in case are distinct objects.
    public var caseSensitive: Bool
    /// Longest name component, in UTF-8 bytes.
    public var maxNameLength: Int
    /// Longest whole name, in UTF-8 bytes; nil: no limit beyond the components'.
    public var maxPathLength: Int?
    /// Characters that must not appear in a name component (mirror naming escapes them).
    public var forbiddenCharacters: Set<Character>
    /// Whether a name component may contain 4-byte UTF-8 characters such as emoji (Baidu refuses them).
    public var allowsFourByteUTF8: Bool
    /// Whether a name component may start or end with a dot or whitespace (Baidu refuses it).
    public var allowsEdgeDotsAndSpaces: Bool

    /// Capabilities of a plain POSIX file system: no limits but 255-byte names.
    public init(
        maxObjectSize: Int64? = nil, sliceSize: Int? = nil, maxSlices: Int? = nil,
        needsDigestsBeforeUpload: Bool = false, allowsEmptyObjects: Bool = true, supportsRangeReads: Bool = true,
        caseSensitive: Bool = true, maxNameLength: Int = 255, maxPathLength: Int? = nil,
        forbiddenCharacters: Set<Character> = [], allowsFourByteUTF8: Bool = true, allowsEdgeDotsAndSpaces: Bool = true
    ) {
        self.maxObjectSize = maxObjectSize
        self.sliceSize = sliceSize
        self.maxSlices = maxSlices
        self.needsDigestsBeforeUpload = needsDigestsBeforeUpload
        self.allowsEmptyObjects = allowsEmptyObjects
        self.supportsRangeReads = supportsRangeReads
        self.caseSensitive = caseSensitive
        self.maxNameLength = maxNameLength
        self.maxPathLength = maxPathLength
        self.forbiddenCharacters = forbiddenCharacters
        self.allowsFourByteUTF8 = allowsFourByteUTF8
        self.allowsEdgeDotsAndSpaces = allowsEdgeDotsAndSpaces
    }
}

/// A stored object as the backend reports it.
public struct ObjectInfo: Sendable, Equatable {
    /// The object's name.
    public var name: ObjectName
    /// Its size in bytes.
    public var size: Int64
    /// When the backend last changed it, if it says.
    public var modified: Date?

    /// Creates a description of an object.
    public init(name: ObjectName, size: Int64, modified: Date? = nil) {
        self.name = name
        self.size = size
        self.modified = modified
    }
}

/// One page of a listing. Listings are paged so no backend ever holds a whole listing in memory.
public struct ListPage: Sendable {
    /// Objects on this page, in ascending name order.
    public var objects: [ObjectInfo]
    /// Pass to the next `list` call; nil when this was the last page.
    public var nextCursor: String?

    /// Creates a page.
    public init(objects: [ObjectInfo], nextCursor: String?) {
        self.objects = objects
        self.nextCursor = nextCursor
    }
}

/// Digests of an object computed before its upload, for backends that need them first (Baidu's `precreate`).
public struct UploadDigests: Sendable, Equatable {
    /// The object's size.
    public var size: Int64
    /// MD5 of the whole object.
    public var md5: [UInt8]
    /// MD5 of its first 256 KiB.
    public var headMD5: [UInt8]
    /// MD5 of each slice of the backend's slice size.
    public var sliceMD5s: [[UInt8]]

    /// Creates a digest set.
    public init(size: Int64, md5: [UInt8], headMD5: [UInt8], sliceMD5s: [[UInt8]]) {
        self.size = size
        self.md5 = md5
        self.headMD5 = headMD5
        self.sliceMD5s = sliceMD5s
    }
}

/// Receives the bytes of one new object. The pipeline writes into it from its own thread; nothing is visible
/// under the object's name before `commit()` returns.
public protocol ObjectWriter: ByteSink {
    /// Makes the object durable and visible under its name. Never replaces an existing object.
    /// - Returns: the stored object's description.
    /// - Throws: `ArchiverError` (`.backend`, `.quota`, `.targetUnavailable`); the object is then absent.
    func commit() async throws -> ObjectInfo
    /// Discards everything written; no trace of the object remains.
    func abort() async
    /// False when the backend already holds exactly these bytes under the name: a rapid-upload hit, or an upload
    /// that completed before a crash and was adopted. The core then calls `commit()` without writing anything.
    var needsBytes: Bool { get }
}

extension ObjectWriter {
    /// Writers need the bytes unless they say otherwise.
    public var needsBytes: Bool { true }
}

/// Where the backend's side of an upload stands (Baidu: upload id, host, slices done), as backend-defined text.
///
/// The core saves it in the catalog after every checkpoint, beside the per-object secret that regenerates the
/// same bytes, so a killed run resumes the upload instead of starting it over. The core never parses it.
public struct UploadCheckpoint: Sendable, Equatable {
    /// Backend-defined state (JSON, for example).
    public var state: String

    /// Creates a checkpoint.
    public init(state: String) { self.state = state }
}

/// What a backend reports about itself without transferring objects, for `archiver status`.
public struct BackendStatus: Sendable, Equatable {
    /// Set when the backend cannot work until the user logs in again: the reason and the exact command to run.
    public var loginNeeded: String?
    /// Other facts worth showing (account tier, quota).
    public var notes: [String]

    /// Creates a status.
    public init(loginNeeded: String? = nil, notes: [String] = []) {
        self.loginNeeded = loginNeeded
        self.notes = notes
    }
}

/// Yields the bytes of one stored object (or a range of it).
public protocol ObjectReader: ByteSource {
    /// Releases the reader's resources.
    func close() async
}

/// A place that stores objects: a local directory, Baidu Netdisk, a mock.
///
/// Backends never see keys: they receive age files (or, with `encryption: off`, plain or gzip objects) under
/// names the core chose. Objects are immutable: a name is written once and never overwritten in place.
/// Control operations are `async`; the bytes of an object flow through `ObjectWriter` / `ObjectReader`, which
/// the pipeline drives from its own threads (never from the concurrency pool, so blocking there is fine).
public protocol RemoteBackend: Sendable {
    /// The spec this backend was made from, for messages (`local:/mnt/usb/archive`).
    var spec: String { get }
    /// What the backend can do.
    var capabilities: BackendCapabilities { get }
    /// False for a backend that keeps nothing (`mock:`, a dry run): the core then writes no catalog rows.
    var persists: Bool { get }

    /// Checks the target is present and initialised, and returns its repository marker.
    /// - Throws: `ArchiverError(.targetUnavailable)` naming the target and what to do (mount the disk, run `init`).
    func open() async throws -> RepositoryMarker
    /// Prepares an empty target and writes its marker. Refuses a target that already holds a marker.
    /// - Parameter marker: the marker to write.
    /// - Throws: `ArchiverError` when the target cannot be prepared or is already initialised.
    func initialize(marker: RepositoryMarker) async throws

    /// Starts a new object.
    /// - Parameters:
    ///   - name: the object's name; it must not exist yet.
    ///   - size: the object's size when known (always known when `digests` is given).
    ///   - digests: required when `capabilities.needsDigestsBeforeUpload`.
    /// - Throws: `ArchiverError` when the object cannot be started.
    func openWriter(for name: ObjectName, size: Int64?, digests: UploadDigests?) async throws -> any ObjectWriter
    /// Starts a new object, or continues an upload an earlier run began under the same name with the same digests.
    ///
    /// Backends that upload in resumable sessions implement this; the others inherit a version that ignores
    /// `resume` and never calls `checkpoint`.
    /// - Parameters:
    ///   - name: the object's name.
    ///   - size: the object's size when known.
    ///   - digests: required when `capabilities.needsDigestsBeforeUpload`.
    ///   - resume: the last checkpoint an earlier run saved for this name and these digests, or nil.
    ///   - checkpoint: called (from any thread) whenever the session advances (opened, a slice confirmed); the
    ///     core saves the state so a later run can pass it back as `resume`.
    /// - Throws: `ArchiverError`; `.loginNeeded` when the account must log in again.
    func openWriter(
        for name: ObjectName, size: Int64?, digests: UploadDigests?, resume: UploadCheckpoint?,
        checkpoint: @escaping @Sendable (UploadCheckpoint) -> Void
    ) async throws -> any ObjectWriter
    /// Reads an object, or the byte range `range` of it.
    /// - Throws: `ArchiverError(.backend)` when the object is missing or unreadable.
    func openReader(for name: ObjectName, range: Range<Int64>?) async throws -> any ObjectReader
    /// Describes an object, or returns nil when it does not exist.
    func stat(_ name: ObjectName) async throws -> ObjectInfo?
    /// Lists objects whose names start with `prefix`, in ascending name order, a page at a time.
    /// - Parameters:
    ///   - prefix: a name prefix (`"<repository id>/data/"`).
    ///   - cursor: nil for the first page, then the previous page's `nextCursor`.
    ///   - limit: the most objects on one page.
    func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage
    /// Deletes an object. Deleting a missing object is not an error.
    func delete(_ name: ObjectName) async throws
    /// Reports the backend's state without transferring objects (login needed, account facts).
    func status() async -> BackendStatus
}

extension RemoteBackend {
    /// Backends keep what they are given unless they say otherwise.
    public var persists: Bool { true }

    /// Backends without resumable sessions start every object afresh.
    public func openWriter(
        for name: ObjectName, size: Int64?, digests: UploadDigests?, resume: UploadCheckpoint?,
        checkpoint: @escaping @Sendable (UploadCheckpoint) -> Void
    ) async throws -> any ObjectWriter {
        try await openWriter(for: name, size: size, digests: digests)
    }

    /// Backends with nothing to report are fine.
    public func status() async -> BackendStatus { BackendStatus() }
}

/// The marker that makes a target a repository: written by `archiver init`, checked before every run, so an
/// unmounted disk (an empty mount point) is never mistaken for an empty repository.
public struct RepositoryMarker: Codable, Sendable, Equatable {
    /// The marker's file name at the target's root.
    public static let fileName = "archiver-repository.json"

    /// The repository id, a UUID; every object lives under `<id>/`.
    public var id: String
    /// Format version of the repository layout.
    public var version: Int
    /// When the target was initialised (ISO 8601).
    public var created: String
    /// What `init` found when it probed the target.
    public var probe: TargetProbe?

    /// Creates a marker.
    public init(id: String, version: Int = 1, created: String, probe: TargetProbe? = nil) {
        self.id = id
        self.version = version
        self.created = created
        self.probe = probe
    }
}

/// Facts `init` measured on a local target.
public struct TargetProbe: Codable, Sendable, Equatable {
    /// Whether names differing in case are distinct.
    public var caseSensitive: Bool
    /// Longest name component accepted, in bytes.
    public var maxNameLength: Int
    /// Largest file size the file system allows, when it has a limit (FAT32: 4 GiB − 1).
    public var maxFileSize: Int64?
    /// The file system type, when known (`vfat`, `ext4`).
    public var fileSystem: String?

    /// Creates a probe result.
    public init(caseSensitive: Bool, maxNameLength: Int, maxFileSize: Int64?, fileSystem: String?) {
        self.caseSensitive = caseSensitive
        self.maxNameLength = maxNameLength
        self.maxFileSize = maxFileSize
        self.fileSystem = fileSystem
    }
}
