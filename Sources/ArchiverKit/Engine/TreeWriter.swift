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
        if exists(dirFD, name) {
            guard overwrite else { return false }
            try removeExisting(dirFD, name, components)
        }
        let rc = target.withCString { t in name.withCString { Glibc.symlinkat(t, dirFD, $0) } }
        guard rc == 0 else { throw ArchiverError.posix("cannot create the symlink", path: display(components)) }
        if isRoot { _ = name.withCString { fchownat(dirFD, $0, uid, gid, AT_SYMLINK_NOFOLLOW) } }
        return true
    }

    /// Writes a file through a temporary name. `fill` streams the content into the sink. Returns false if the
    /// path exists and overwriting is off (nothing is read then).
    func file(
        _ components: [[UInt8]], mode: UInt32, mtimeNs: Int64, uid: UInt32, gid: UInt32,
        fill: (FileDescriptorSink) async throws -> Void
    ) async throws -> Bool {
        let dirFD = try parent(of: components)
        let name = components.last!
        if exists(dirFD, name) && !overwrite { return false }
        let temp = Array(".archiver-restore-\(ObjectNamer.randomHex(6)).tmp".utf8)
        let tempPath = display(Array(components.dropLast()) + [temp])
        let fd = temp.withCString { openat(dirFD, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw ArchiverError.posix("cannot create a temporary file", path: tempPath) }
        temporaryFiles?(tempPath, true)
        let sink = FileDescriptorSink(fd: fd, label: display(components), closeWhenDone: false)
        do {
            try await fill(sink)
            if isRoot { fchown(fd, uid, gid) }
            fchmod(fd, mode_t(mode & 0o7777))
            var times = [Self.timespec(mtimeNs), Self.timespec(mtimeNs)]
            futimens(fd, &times)
            try sink.sync()
            close(fd)
            if exists(dirFD, name) { try removeExisting(dirFD, name, components, keepFiles: true) }
            let rc = temp.withCString { t in name.withCString { renameat(dirFD, t, dirFD, $0) } }
            guard rc == 0 else { throw ArchiverError.posix("cannot rename into place", path: display(components)) }
            temporaryFiles?(tempPath, false)
            return true
        } catch {
            close(fd)
            _ = temp.withCString { unlinkat(dirFD, $0, 0) }
            temporaryFiles?(tempPath, false)
            throw error
        }
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

    private func exists(_ dirFD: Int32, _ name: [UInt8]) -> Bool {
        var st = stat()
        return name.withCString { fstatat(dirFD, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
    }

    /// Removes what stands where a file or link goes; a folder is never removed.
    private func removeExisting(_ dirFD: Int32, _ name: [UInt8], _ components: [[UInt8]], keepFiles: Bool = false) throws {
        var st = stat()
        guard name.withCString({ fstatat(dirFD, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            throw ArchiverError(.io, "a folder stands where a file goes; it is left alone", subject: display(components))
        }
        if keepFiles && st.st_mode & S_IFMT == S_IFREG { return }  // rename replaces it atomically
        _ = name.withCString { unlinkat(dirFD, $0, 0) }
    }

    static func timespec(_ ns: Int64) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
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
