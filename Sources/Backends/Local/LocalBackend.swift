public import ArchiverKit
import Foundation
import Synchronization

/// A folder on a local or external disk (`local:/mnt/usb/archive`).
///
/// Objects are files under the root (`a/b/c` at `<root>/a/b/c`), written to a temporary name, flushed and then
/// renamed without replacing anything; the marker `archiver-repository.json` sits at the root. `open()` refuses a
/// root without a marker, so the empty mount point of an unplugged disk is never taken for an empty repository.
public final class LocalBackend: RemoteBackend {
    /// The spec scheme, `local`.
    public static let scheme = "local"

    public let spec: String
    /// The root folder, absolute.
    public let root: String

    let store: FileStore
    /// What `init` measured, once the marker has been read or written (`known` false before).
    private let probe = Mutex<(known: Bool, value: TargetProbe?)>((false, nil))

    /// Creates a backend over a folder. Nothing is touched until `open()` or `initialize(marker:)`.
    /// - Parameters:
    ///   - root: an absolute path.
    ///   - spec: the spec it came from, for messages; `local:<root>` when nil.
    public convenience init(root: String, spec: String? = nil) {
        self.init(store: FileStore(root: root), spec: spec)
    }

    /// Creates a backend from the argument of a `local:` spec.
    /// - Parameters:
    ///   - argument: the folder; a relative one is resolved against `context.baseDirectory`, `~/` against the home
    ///     folder.
    ///   - context: the registry's context.
    /// - Throws: `ArchiverError(.usage)` when the folder is missing from the spec.
    public convenience init(argument: String, context: BackendRegistry.Context) throws {
        guard !argument.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ArchiverError(.usage, "the local backend needs a folder, for example local:/mnt/usb/archive")
        }
        self.init(
            root: resolvePath(argument, against: context.baseDirectory), spec: "\(Self.scheme):\(argument)")
    }

    /// Creates a backend over a store (tests choose the store's publishing fallback).
    init(store: FileStore, spec: String? = nil) {
        self.store = store
        self.root = store.root
        self.spec = spec ?? "\(Self.scheme):\(store.root)"
    }

    /// Taken from the marker's probe: the file system's size limit (FAT: 4 GiB − 1), case sensitivity and name
    /// length; FAT-family file systems also refuse some characters and names ending in dots or spaces. Before
    /// `open()` or `initialize(marker:)` the marker is read on first use; a target without one has POSIX defaults.
    public var capabilities: BackendCapabilities {
        Self.capabilities(for: knownProbe())
    }

    /// Capabilities that follow from a probe.
    static func capabilities(for probe: TargetProbe?) -> BackendCapabilities {
        var capabilities = BackendCapabilities()
        guard let probe else { return capabilities }
        capabilities.maxObjectSize = probe.maxFileSize
        capabilities.caseSensitive = probe.caseSensitive
        capabilities.maxNameLength = probe.maxNameLength
        if let fileSystem = probe.fileSystem, ["vfat", "exfat", "ntfs", "ntfs3"].contains(fileSystem) {
            capabilities.forbiddenCharacters = ["\"", "*", ":", "<", ">", "?", "\\", "|"]
            if fileSystem == "vfat" || fileSystem == "exfat" { capabilities.allowsEdgeDotsAndSpaces = false }
        }
        return capabilities
    }

    private func knownProbe() -> TargetProbe? {
        let cached = probe.withLock { $0 }
        if cached.known { return cached.value }
        guard let marker = try? store.readMarker() else { return nil }
        probe.withLock { $0 = (true, marker.probe) }
        return marker.probe
    }

    private func sizeLimit() -> FileObjectWriter.SizeLimit? {
        guard let probe = knownProbe(), let bytes = probe.maxFileSize else { return nil }
        return FileObjectWriter.SizeLimit(
            bytes: bytes,
            reason: "the file system of \(root) (\(probe.fileSystem ?? "unknown")) stores no larger files")
    }

    public func open() async throws -> RepositoryMarker {
        let marker = try await offload { [store] in try store.readMarker() }
        probe.withLock { $0 = (true, marker.probe) }
        return marker
    }

    /// Creates the root when its parent exists, refuses a root that already holds a marker, probes the file system
    /// and writes the marker with the probe's findings.
    public func initialize(marker: RepositoryMarker) async throws {
        let written = try await offload { [store] in try store.initialize(marker, probing: true) }
        probe.withLock { $0 = (true, written.probe) }
    }

    public func openWriter(for name: ObjectName, size: Int64?, digests: UploadDigests?) async throws
        -> any ObjectWriter
    {
        let limit = sizeLimit()
        if let limit, let size, size > limit.bytes {
            throw ArchiverError(
                .backend, "object \(name) has \(size) bytes, more than \(limit.bytes): \(limit.reason)",
                subject: name.value)
        }
        return try await offload { [store] in try store.makeWriter(for: name, limit: limit) }
    }

    public func openReader(for name: ObjectName, range: Range<Int64>?) async throws -> any ObjectReader {
        try await offload { [store] in try store.openReader(for: name, range: range) }
    }

    public func stat(_ name: ObjectName) async throws -> ObjectInfo? {
        try await offload { [store] in try store.stat(name) }
    }

    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await offload { [store] in try store.list(prefix: prefix, cursor: cursor, limit: limit) }
    }

    public func delete(_ name: ObjectName) async throws {
        try await offload { [store] in _ = try store.delete(name) }
    }
}

/// Makes a spec's folder absolute: `~/x` against the home folder, `x` against `base`.
/// - Parameters:
///   - path: the folder as written.
///   - base: the config file's folder.
func resolvePath(_ path: String, against base: String) -> String {
    var path = path
    if path == "~" || path.hasPrefix("~/") {
        path = NSHomeDirectory() + path.dropFirst()
    }
    if !path.hasPrefix("/") {
        path = (base as NSString).appendingPathComponent(path)
    }
    return URL(fileURLWithPath: path).standardizedFileURL.path
}
