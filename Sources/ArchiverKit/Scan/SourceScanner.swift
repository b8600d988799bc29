#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What one directory holds, as `SourceScanner.list(directory:)` saw it.
public struct DirectoryListing: Sendable, Equatable {
    /// The entries, sorted by name bytes, excluded ones left out.
    public var entries: [ScannedEntry]
    /// True when the directory holds a valid `CACHEDIR.TAG`: its contents are not backed up and `entries` is
    /// empty, though the directory itself still appears in its parent's listing.
    public var isCacheDirectory: Bool
    /// Entries that were listed but could not be examined (for example a name that `fstatat` refuses), sorted by
    /// path bytes. Entries that vanished between listing and examining are dropped instead: they are gone.
    public var problems: [ScanProblem]

    /// Creates a listing.
    public init(entries: [ScannedEntry], isCacheDirectory: Bool, problems: [ScanProblem] = []) {
        self.entries = entries
        self.isCacheDirectory = isCacheDirectory
        self.problems = problems
    }
}

/// The system-call failure behind an `ArchiverError` from the scanner, kept as its `cause` so the engine can tell
/// a path that vanished while scanned (worth a note) from one it may not read (worth a warning).
public struct ScanSystemError: Error, Sendable, Equatable {
    /// The `errno` value.
    public var code: Int32
    /// True for `ENOENT`: the path, or a directory on the way to it, no longer exists.
    public var isVanished: Bool { code == ENOENT }
}

/// Reads a source tree one directory at a time (memory bounded by the largest directory, never the tree).
///
/// Nothing here follows a symbolic link below the root: directories are opened component by component from a
/// descriptor of the root with `O_NOFOLLOW`, so a link swapped in for a folder mid-scan cannot lead the backup
/// out of the source tree, link loops cannot make it spin, and paths deeper than `PATH_MAX` work. The root itself
/// is opened once, following links, as a user who names a linked folder means its target.
///
/// Every method opens its own descriptors and keeps no state besides the root's descriptor, so one scanner may
/// be used from several threads at once.
public final class SourceScanner: @unchecked Sendable {
    /// The root as given, for messages.
    public let root: String
    /// The root's path bytes.
    public let rootPath: [UInt8]
    /// The patterns entries are checked against.
    public let excludes: ExcludeMatcher
    private let rootFd: Int32

    /// Opens a source tree.
    /// - Parameters:
    ///   - root: an existing directory.
    ///   - excludes: what to leave out.
    /// - Throws: `ArchiverError(.io)` when the root does not exist, is not a directory or cannot be opened.
    public convenience init(root: String, excludes: ExcludeMatcher) throws {
        try self.init(rootPath: Array(root.utf8), display: root, excludes: excludes)
    }

    /// Opens a source tree whose path is not valid UTF-8.
    /// - Parameters:
    ///   - rootPath: an existing directory, as bytes.
    ///   - excludes: what to leave out.
    /// - Throws: `ArchiverError(.io)` when the root does not exist, is not a directory or cannot be opened.
    public convenience init(rootPath: [UInt8], excludes: ExcludeMatcher) throws {
        try self.init(rootPath: rootPath, display: BytePath.display(rootPath), excludes: excludes)
    }

    private init(rootPath: [UInt8], display: String, excludes: ExcludeMatcher) throws {
        root = display
        self.rootPath = rootPath
        self.excludes = excludes
        guard !rootPath.isEmpty, !rootPath.contains(0) else {
            throw ArchiverError(.io, "source folder does not exist", subject: display)
        }
        var st = stat()
        if withCPath(rootPath, { stat($0, &st) }) != 0 {
            let code = errno
            let what = code == ENOENT ? "does not exist" : code == ENOTDIR ? "is not a directory" : Self.reason(code)
            throw ArchiverError(.io, "source folder \(what)", subject: display, cause: ScanSystemError(code: code))
        }
        guard FileKind(mode: UInt32(st.st_mode)) == .directory else {
            throw ArchiverError(.io, "source folder is not a directory", subject: display)
        }
        let fd = Self.retrying { withCPath(rootPath) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } }
        guard fd >= 0 else {
            let code = errno
            throw ArchiverError(
                .io, "cannot open source folder: \(Self.reason(code))", subject: display,
                cause: ScanSystemError(code: code))
        }
        rootFd = fd
    }

    deinit { close(rootFd) }

    /// Lists one directory with one `fstatat` per entry, sorted by name bytes.
    ///
    /// Excluded entries are left out without a report. A directory holding a valid `CACHEDIR.TAG` (a regular
    /// file starting with "Signature: 8a477f597d28d172789f06886806bc55", see bford.info/cachedir) is flagged and
    /// its entries are not read at all, which spares reading huge cache folders. FIFOs, sockets and devices are
    /// returned with their kind; the engine skips and reports them. An entry that vanishes between `readdir` and
    /// `fstatat` is dropped silently. Whether `directory` itself is excluded is not checked: the caller got it
    /// from a listing, which already left excluded directories out.
    /// - Parameter directory: the directory relative to the root, as bytes; `[]` for the root itself.
    /// - Returns: the listing.
    /// - Throws: `ArchiverError(.io)` naming the relative path when the directory cannot be opened or read
    ///   (permission denied, vanished, replaced by a symlink or file); `.usage` for a path with "." or ".."
    ///   components or a NUL byte.
    public func list(directory: [UInt8]) throws -> DirectoryListing {
        let components = try validated(directory)
        let fd = try openDirectory(components[...], path: directory, forReading: true)
        if hasCacheTag(fd) {
            close(fd)
            return DirectoryListing(entries: [], isCacheDirectory: true)
        }
        guard let stream = fdopendir(fd) else {
            let code = errno
            close(fd)
            throw failure("cannot list folder", directory, code: code)
        }
        defer { closedir(stream) }
        let streamFd = dirfd(stream)

        var entries: [ScannedEntry] = []
        var problems: [ScanProblem] = []
        // The path of the entry being looked at, as components for the exclude check; the directory's part is
        // built once and the name swapped in per entry.
        var matchPath = directory.split(separator: BytePath.separator)
        while true {
            errno = 0
            guard let dirent = readdir(stream) else {
                let code = errno
                if code != 0 { throw failure("cannot list folder", directory, code: code) }
                break
            }
            let name = Self.name(of: dirent)
            if name == [0x2E] || name == [0x2E, 0x2E] { continue }
            let typeHint = Int(dirent.pointee.d_type)
            matchPath.append(name[...])
            defer { matchPath.removeLast() }

            var st = stat()
            if withCPath(name, { fstatat(streamFd, $0, &st, AT_SYMLINK_NOFOLLOW) }) != 0 {
                let code = errno
                if code == ENOENT { continue }
                if excludes.matches(matchPath[...], isDirectory: typeHint == Int(DT_DIR)) { continue }
                problems.append(
                    ScanProblem(relativePath: BytePath.join(directory, name), message: Self.reason(code)))
                continue
            }
            let entry = ScannedEntry(name: name, stat: st)
            if excludes.matches(matchPath[...], isDirectory: entry.kind == .directory) { continue }
            entries.append(entry)
        }
        entries.sort { $0.name.lexicographicallyPrecedes($1.name) }
        problems.sort { $0.relativePath.lexicographicallyPrecedes($1.relativePath) }
        return DirectoryListing(entries: entries, isCacheDirectory: false, problems: problems)
    }

    /// Opens a regular file for reading without following a symbolic link in any component.
    ///
    /// Directories on the way are opened one at a time with `O_NOFOLLOW | O_DIRECTORY`; the file is looked at
    /// with `fstatat` first and opened only when it is a regular file (opening a FIFO would block until a writer
    /// comes, opening a device can act on the hardware), then opened `O_NOFOLLOW`, `O_NONBLOCK` against a FIFO
    /// swapped in after the look, and `O_NOATIME` so a backup does not disturb access times, falling back to a
    /// plain open when the kernel refuses that to a non-owner (EPERM).
    /// - Parameter relativePath: the file relative to the root.
    /// - Returns: the descriptor, which the caller must close, and its `fstat`; compare that with a second
    ///   `fstat` after reading (`fileFingerprintChanged`) to catch a file that changed while read.
    /// - Throws: `ArchiverError(.io)` naming the path when a component is a symlink or not a directory, the file
    ///   is not a regular file, or it cannot be opened; `.usage` for a path with "." or "..".
    public func openFile(_ relativePath: [UInt8]) throws -> (fd: Int32, stat: ScannedEntry) {
        let components = try validated(relativePath)
        guard let name = components.last else {
            throw ArchiverError(.usage, "the source root is a folder, not a file", subject: root)
        }
        let parent = try openDirectory(components.dropLast(), path: relativePath, forReading: false)
        defer { close(parent) }

        var st = stat()
        if withCPath(name, { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) }) != 0 {
            throw failure("cannot open", relativePath, code: errno)
        }
        let kind = FileKind(mode: UInt32(st.st_mode))
        guard kind == .file else { throw notRegular(relativePath, kind) }

        let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
        var fd = Self.retrying { withCPath(name) { openat(parent, $0, flags | Self.noAccessTime) } }
        if fd < 0 && errno == EPERM {
            fd = Self.retrying { withCPath(name) { openat(parent, $0, flags) } }
        }
        guard fd >= 0 else { throw failure("cannot open", relativePath, code: errno) }
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw failure("cannot examine", relativePath, code: code)
        }
        let openedKind = FileKind(mode: UInt32(st.st_mode))
        guard openedKind == .file else {
            close(fd)
            throw notRegular(relativePath, openedKind)
        }
        // O_NONBLOCK only guarded the open; hand out a plain descriptor.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        return (fd, ScannedEntry(name: name, stat: st))
    }

    /// Reads a symbolic link's target as bytes, exactly as stored (it may be relative, absolute, dangling or not
    /// UTF-8; none of that matters to a backup).
    /// - Parameter relativePath: the link relative to the root.
    /// - Returns: the target.
    /// - Throws: `ArchiverError(.io)` when the path is not a symlink or cannot be read; `.usage` for a path with
    ///   "." or "..".
    public func readLink(_ relativePath: [UInt8]) throws -> [UInt8] {
        let components = try validated(relativePath)
        guard let name = components.last else {
            throw ArchiverError(.usage, "the source root is a folder, not a symbolic link", subject: root)
        }
        let parent = try openDirectory(components.dropLast(), path: relativePath, forReading: false)
        defer { close(parent) }
        // Targets are at most PATH_MAX on Linux, but other file systems (FUSE, network) may allow longer ones,
        // so grow until the result fits with room to spare (a full buffer may mean truncation).
        var capacity = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let count = withCPath(name) { path in
                buffer.withUnsafeMutableBufferPointer { raw in
                    raw.withMemoryRebound(to: CChar.self) { readlinkat(parent, path, $0.baseAddress!, capacity) }
                }
            }
            if count < 0 {
                let code = errno
                if code == EINVAL { throw ArchiverError(.io, "is not a symbolic link", subject: subject(relativePath)) }
                throw failure("cannot read symbolic link", relativePath, code: code)
            }
            if count < capacity { return Array(buffer[..<count]) }
            guard capacity < 1 << 20 else {
                throw ArchiverError(.io, "symbolic link target is longer than 1 MiB", subject: subject(relativePath))
            }
            capacity *= 4
        }
    }

    // MARK: - Walking

    /// Splits a relative path, refusing what could leave the tree or could never have come from a listing.
    private func validated(_ path: [UInt8]) throws -> [[UInt8]] {
        guard !path.contains(0) else {
            throw ArchiverError(.usage, "a path inside the source holds a NUL byte", subject: subject(path))
        }
        if path.isEmpty { return [] }
        let parts = path.split(separator: BytePath.separator, omittingEmptySubsequences: false)
        for part in parts where part.isEmpty || part.elementsEqual([0x2E]) || part.elementsEqual([0x2E, 0x2E]) {
            throw ArchiverError(
                .usage, "not a path inside the source root (empty, '.' or '..' component, or leading '/')",
                subject: subject(path))
        }
        return parts.map { Array($0) }
    }

    /// Opens the directory at `components` below the root, one component at a time and never through a symlink.
    ///
    /// Directories on the way are opened `O_PATH`, which needs only search permission, as a plain path lookup
    /// would; the last one is opened for reading when it is to be listed.
    /// - Returns: a descriptor the caller closes.
    private func openDirectory(
        _ components: ArraySlice<[UInt8]>, path: [UInt8], forReading: Bool
    ) throws -> Int32 {
        let walk = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | Self.pathOnly
        let read = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        let what = forReading ? "cannot list folder" : "cannot open"
        if components.isEmpty {
            let fd = Self.retrying { openat(rootFd, ".", forReading ? read : walk) }
            guard fd >= 0 else { throw failure(what, path, code: errno) }
            return fd
        }
        var current = rootFd
        var consumed: [UInt8] = []
        for (offset, component) in components.enumerated() {
            let last = offset == components.count - 1
            consumed = BytePath.join(consumed, component)
            let next = Self.retrying {
                withCPath(component) { openat(current, $0, last && forReading ? read : walk) }
            }
            let code = errno
            if next < 0 {
                let reason = describeWalkFailure(current, component, code: code)
                if current != rootFd { close(current) }
                let place = consumed == path ? "" : "'\(BytePath.display(consumed))' "
                throw ArchiverError(
                    .io, "\(what): \(place)\(reason)", subject: subject(path), cause: ScanSystemError(code: code))
            }
            if current != rootFd { close(current) }
            current = next
        }
        return current
    }

    /// Says why a directory component could not be opened, looking at it again to tell a symlink (refused on
    /// purpose) from a file (the tree changed, or the path was wrong).
    private func describeWalkFailure(_ parent: Int32, _ component: [UInt8], code: Int32) -> String {
        guard code == ELOOP || code == ENOTDIR else { return Self.reason(code) }
        var st = stat()
        guard withCPath(component, { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            return Self.reason(code)
        }
        let kind = FileKind(mode: UInt32(st.st_mode))
        return kind == .symlink ? "is a symbolic link; not followed" : "is not a directory"
    }

    /// Whether the open directory holds a valid CACHEDIR.TAG: a regular file (not a link to one) whose first
    /// bytes are the signature. A tag that cannot be read counts as absent, so the folder is backed up.
    private func hasCacheTag(_ directory: Int32) -> Bool {
        let tagName = Array("CACHEDIR.TAG".utf8)
        var st = stat()
        guard withCPath(tagName, { fstatat(directory, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0,
            FileKind(mode: UInt32(st.st_mode)) == .file
        else { return false }
        let fd = Self.retrying {
            withCPath(tagName) { openat(directory, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard fstat(fd, &st) == 0, FileKind(mode: UInt32(st.st_mode)) == .file else { return false }
        let signature = Array("Signature: 8a477f597d28d172789f06886806bc55".utf8)
        var buffer = [UInt8](repeating: 0, count: signature.count)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress! + filled, raw.count - filled)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            filled += count
        }
        return buffer == signature
    }

    // MARK: - Errors

    private func subject(_ path: [UInt8]) -> String {
        path.isEmpty ? root : BytePath.display(path)
    }

    private func failure(_ what: String, _ path: [UInt8], code: Int32) -> ArchiverError {
        ArchiverError(.io, "\(what): \(Self.reason(code))", subject: subject(path), cause: ScanSystemError(code: code))
    }

    private func notRegular(_ path: [UInt8], _ kind: FileKind) -> ArchiverError {
        let what = kind == .symlink ? "is a symbolic link; not followed" : "is \(kind.noun), not a regular file"
        return ArchiverError(.io, "cannot open: \(what)", subject: subject(path))
    }

    /// A failure phrased to follow a path, lower case as in the rest of a report line.
    static func reason(_ code: Int32) -> String {
        switch code {
        case EACCES, EPERM: return "permission denied"
        case ENOENT: return "does not exist"
        case ENOTDIR: return "is not a directory"
        case ELOOP: return "is a symbolic link; not followed"
        case ENAMETOOLONG: return "name too long"
        default:
            let text = String(cString: strerror(code))
            guard let first = text.first else { return "error \(code)" }
            return first.lowercased() + text.dropFirst()
        }
    }

    // MARK: - System calls

    /// `O_PATH` and `O_NOATIME` need `_GNU_SOURCE`, which the Glibc module is not built with; their values are
    /// the same on x86-64 and arm64, the architectures NAS boxes run.
    #if os(Linux)
    private static let pathOnly: Int32 = 0o10_000_000
    private static let noAccessTime: Int32 = 0o1_000_000
    #else
    private static let pathOnly: Int32 = O_RDONLY
    private static let noAccessTime: Int32 = 0
    #endif

    /// Repeats a call interrupted by a signal (opens on network file systems can be).
    private static func retrying(_ call: () -> Int32) -> Int32 {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    /// The name in a `dirent`, as bytes up to its NUL.
    private static func name(of entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let start = UnsafeRawPointer(entry).advanced(by: offset).assumingMemoryBound(to: CChar.self)
        return Array(UnsafeRawBufferPointer(start: start, count: strlen(start)))
    }
}

/// Calls `body` with `bytes` as a NUL-terminated C path.
private func withCPath<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    var terminated = bytes
    terminated.append(0)
    return try terminated.withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}
