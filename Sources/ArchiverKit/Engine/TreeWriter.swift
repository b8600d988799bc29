import Foundation

/// Writes a restored tree under one root without ever following a symlink below it.
///
/// Every component is opened with `O_NOFOLLOW | O_DIRECTORY` relative to its parent, so a symlink planted in
/// the destination (`photos -> /etc`) makes the write fail instead of landing outside. Files are written to a
/// temporary name in their folder, flushed, and renamed into place; folders get their mode and mtime last, deepest
/// first, so writing into them does not disturb their times.
final class TreeWriter: @unchecked Sendable {
    let rootPath: String
    private let rootFD: Int32
    private let overwrite: Bool
    private let temporaryFiles: (@Sendable (String, Bool) -> Void)?
    private var cachedDir: (path: [[UInt8]], fd: Int32)?
    private var directoryMetadata: [(path: [[UInt8]], mode: UInt32, mtimeNs: Int64)] = []
    private let isRoot = geteuid() == 0

    init(root: String, overwrite: Bool, temporaryFiles: (@Sendable (String, Bool) -> Void)?) throws {
        if mkdir(root, 0o700) != 0 && errno != EEXIST {
            throw ArchiverError.posix("cannot create the restore folder", path: root)
        }
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiverError.posix("cannot open the restore folder", path: root) }
        self.rootPath = root
        self.rootFD = fd
        self.overwrite = overwrite
        self.temporaryFiles = temporaryFiles
    }

    deinit {
        if let cachedDir { close(cachedDir.fd) }
        close(rootFD)
    }

    private func display(_ components: [[UInt8]]) -> String {
        rootPath + "/" + components.map { BytePath.display($0) }.joined(separator: "/")
    }

    /// Opens (creating as needed) the folder holding `components`' last element.
    private func parent(of components: [[UInt8]]) throws -> Int32 {
        let dirPath = Array(components.dropLast())
        if let cachedDir, cachedDir.path == dirPath { return cachedDir.fd }
        var fd = dup(rootFD)
        for component in dirPath {
            var next = component.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if next < 0 && errno == ENOENT {
                _ = component.withCString { mkdirat(fd, $0, 0o700) }
                next = component.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            if next < 0 {
                let code = errno
                close(fd)
                if code == ELOOP || code == ENOTDIR {
                    throw ArchiverError(
                        .io, "refusing to restore through \(BytePath.display(component)): it is a symlink or not a folder",
                        subject: display(dirPath))
                }
                throw ArchiverError.posix("cannot open the folder", path: display(dirPath))
            }
            close(fd)
            fd = next
        }
        if let cachedDir { close(cachedDir.fd) }
        cachedDir = (dirPath, fd)
        return fd
    }

    /// Creates a folder now; its mode and mtime are applied by `finishDirectories()`.
    func directory(_ components: [[UInt8]], mode: UInt32, mtimeNs: Int64) throws {
        _ = try parent(of: components + [[0x2e]])  // opens (and creates) the folder itself
        directoryMetadata.append((components, mode, mtimeNs))
    }

    /// Creates a symlink (the link itself; its target is never followed). Returns false if the path exists and
    /// overwriting is off.
    func symlink(_ components: [[UInt8]], target: [UInt8], uid: UInt32, gid: UInt32) throws -> Bool {
        let dirFD = try parent(of: components)
        let name = components.last!
        if Self.exists(dirFD, name) {
            guard overwrite else { return false }
            try Self.removeExisting(dirFD, name, display: display(components))
        }
        let rc = target.withCString { t in name.withCString { Glibc.symlinkat(t, dirFD, $0) } }
        guard rc == 0 else { throw ArchiverError.posix("cannot create the symlink", path: display(components)) }
        if isRoot { _ = name.withCString { fchownat(dirFD, $0, uid, gid, AT_SYMLINK_NOFOLLOW) } }
        return true
    }

    /// Opens a file's temporary name in its folder (creating the folders as needed); `PendingFile.complete` then
    /// streams the content in and renames it into place. Returns nil if the path exists and overwriting is off
    /// (nothing is read then). Must be called from the writer's one caller, like every method here except
    /// `PendingFile.complete`, which may run anywhere.
    func begin(_ components: [[UInt8]], mode: UInt32, mtimeNs: Int64, uid: UInt32, gid: UInt32) throws -> PendingFile? {
        let dirFD = try parent(of: components)
        let name = components.last!
        if !overwrite && Self.exists(dirFD, name) { return nil }
        let temp = Array(".archiver-restore-\(ObjectNamer.randomHex(6)).tmp".utf8)
        let tempPath = display(Array(components.dropLast()) + [temp])
        // The pending file owns a copy of its folder's descriptor: the cached one moves on with the next path.
        let ownDir = dup(dirFD)
        guard ownDir >= 0 else { throw ArchiverError.posix("cannot open the folder", path: display(components)) }
        let fd = temp.withCString { openat(ownDir, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else {
            let error = ArchiverError.posix("cannot create a temporary file", path: tempPath)
            close(ownDir)
            throw error
        }
        temporaryFiles?(tempPath, true)
        return PendingFile(
            dirFD: ownDir, fd: fd, name: name, temp: temp, display: display(components), tempPath: tempPath,
            mode: mode, mtimeNs: mtimeNs, owner: isRoot ? (uid, gid) : nil, temporaryFiles: temporaryFiles)
    }

    /// Applies folder modes and mtimes, deepest first. Returns how many folders were set.
    func finishDirectories() throws -> Int {
        let ordered = directoryMetadata.sorted { $0.path.count > $1.path.count }
        for item in ordered {
            let fd = try parent(of: item.path + [[0x2e]])
            if cachedDir?.fd == fd { cachedDir = nil }
            fchmod(fd, mode_t(item.mode & 0o7777))
            var times = [Self.timespec(item.mtimeNs), Self.timespec(item.mtimeNs)]
            futimens(fd, &times)
            close(fd)
        }
        return ordered.count
    }

    static func timespec(_ ns: Int64) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }
}

extension TreeWriter {
    static func exists(_ dirFD: Int32, _ name: [UInt8]) -> Bool {
        var st = stat()
        return name.withCString { fstatat(dirFD, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
    }

    /// Removes what stands where a file or link goes (nothing when nothing does); a folder is never removed.
    static func removeExisting(_ dirFD: Int32, _ name: [UInt8], display: String, keepFiles: Bool = false) throws {
        var st = stat()
        guard name.withCString({ fstatat(dirFD, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            throw ArchiverError(.io, "a folder stands where a file goes; it is left alone", subject: display)
        }
        if keepFiles && st.st_mode & S_IFMT == S_IFREG { return }  // rename replaces it atomically
        _ = name.withCString { unlinkat(dirFD, $0, 0) }
    }
}

/// A file whose temporary name is open in its folder, waiting for its content. It holds its own descriptors, so
/// files complete concurrently while the writer goes on to other paths.
final class PendingFile: Sendable {
    let dirFD: Int32
    let fd: Int32
    let name: [UInt8]
    let temp: [UInt8]
    /// The final path, for messages.
    let display: String
    let tempPath: String
    let mode: UInt32
    let mtimeNs: Int64
    let owner: (uid: UInt32, gid: UInt32)?
    let temporaryFiles: (@Sendable (String, Bool) -> Void)?

    init(
        dirFD: Int32, fd: Int32, name: [UInt8], temp: [UInt8], display: String, tempPath: String, mode: UInt32,
        mtimeNs: Int64, owner: (uid: UInt32, gid: UInt32)?, temporaryFiles: (@Sendable (String, Bool) -> Void)?
    ) {
        (self.dirFD, self.fd, self.name, self.temp, self.display, self.tempPath) =
            (dirFD, fd, name, temp, display, tempPath)
        (self.mode, self.mtimeNs, self.owner, self.temporaryFiles) = (mode, mtimeNs, owner, temporaryFiles)
    }

    /// Streams the content in with `fill`, sets owner, mode and times, flushes, and renames into place. On any
    /// error the temporary file is removed and nothing stands where a good file was. Closes the descriptors.
    func complete(fill: (FileDescriptorSink) async throws -> Void) async throws {
        defer { close(dirFD) }
        let sink = FileDescriptorSink(fd: fd, label: display, closeWhenDone: false)
        // Closed exactly once: with files completing concurrently, a second close could hit another file's
        // descriptor that reused the number.
        var open = true
        do {
            try await fill(sink)
            if let owner { fchown(fd, owner.uid, owner.gid) }
            fchmod(fd, mode_t(mode & 0o7777))
            var times = [TreeWriter.timespec(mtimeNs), TreeWriter.timespec(mtimeNs)]
            futimens(fd, &times)
            try sink.sync()
            open = false
            close(fd)
            try TreeWriter.removeExisting(dirFD, name, display: display, keepFiles: true)
            let rc = temp.withCString { t in name.withCString { renameat(dirFD, t, dirFD, $0) } }
            guard rc == 0 else { throw ArchiverError.posix("cannot rename into place", path: display) }
            temporaryFiles?(tempPath, false)
        } catch {
            if open { close(fd) }
            _ = temp.withCString { unlinkat(dirFD, $0, 0) }
            temporaryFiles?(tempPath, false)
            throw error
        }
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with a NUL-terminated copy of the bytes (file names are bytes, not Strings).
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (self + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}
