import ArchiverKit
import Glibc

/// Measures what a target folder's file system allows, for the marker `init` writes.
///
/// The file system's type comes from the kernel's mount table rather than `statfs(2)`: Swift's Glibc module does
/// not include `<sys/statfs.h>`, and the table names the type as users know it (`vfat`, `exfat`, `fuseblk`).
///
/// Probe files are named like temporary files (`.tmp-….partial`) so that one left behind by a crash is skipped
/// by listings; they are removed before the probe returns.
struct TargetProber {
    /// The store being initialised.
    let store: FileStore

    /// FAT's file size limit: 4 GiB − 1.
    static let fatMaxFileSize: Int64 = 4 * 1024 * 1024 * 1024 - 1

    /// File system types (as the kernel names them in /proc/self/mountinfo) with FAT's file size limit.
    static let fatFileSystems: Set<String> = ["vfat", "msdos", "fat"]

    /// Probes the root folder.
    /// - Parameter folder: the open root folder.
    /// - Throws: `ArchiverError` when the folder refuses files altogether.
    func probe(_ folder: OpenDirectory) throws -> TargetProbe {
        let caseSensitive = try probeCaseSensitivity(folder)
        let maxNameLength = try probeNameLength(folder)
        let fileSystem = MountTable.fileSystemType(of: folder, path: store.root)
        return TargetProbe(
            caseSensitive: caseSensitive, maxNameLength: maxNameLength,
            maxFileSize: fileSystem.map { Self.fatFileSystems.contains($0) } == true ? Self.fatMaxFileSize : nil,
            fileSystem: fileSystem)
    }

    /// Creates `name`; true when created, false when the name is too long.
    private func create(_ name: String, in folder: OpenDirectory) throws -> Bool {
        let fd = retryingInterrupts {
            openat(folder.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        if fd >= 0 {
            close(fd)
            return true
        }
        if errno == ENAMETOOLONG { return false }
        throw store.failure(errno, "create a probe file", object: nil)
    }

    /// Creates `ArchiverProbe` and checks whether `archiverprobe` finds the same file.
    private func probeCaseSensitivity(_ folder: OpenDirectory) throws -> Bool {
        let tag = String(UInt64.random(in: .min ... .max), radix: 16)
        let mixed = "\(FileStore.temporaryPrefix)ArchiverProbe-\(tag)\(FileStore.temporarySuffix)"
        guard try create(mixed, in: folder) else {
            throw ArchiverError(.internalError, "probe file name too long", subject: store.root)
        }
        defer { _ = unlinkat(folder.fd, mixed, 0) }
        guard case .success(let original) = FileFacts.of(mixed, in: folder) else {
            throw store.failure(errno, "examine a probe file", object: nil)
        }
        switch FileFacts.of(mixed.lowercased(), in: folder) {
        case .success(let other):
            return other.identity != original.identity
        case .failure:
            return true
        }
    }

    /// Finds the longest name component the folder accepts: 255 bytes where it can, less on the few file systems
    /// that store names in fewer (eCryptfs: 143).
    private func probeNameLength(_ folder: OpenDirectory) throws -> Int {
        let shortest = FileStore.temporaryName().utf8.count
        func name(ofLength length: Int) -> String {
            let stem = FileStore.temporaryName().dropLast(FileStore.temporarySuffix.count)
            return stem + String(repeating: "n", count: length - shortest) + FileStore.temporarySuffix
        }
        func accepts(_ length: Int) throws -> Bool {
            let candidate = name(ofLength: length)
            guard try create(candidate, in: folder) else { return false }
            _ = unlinkat(folder.fd, candidate, 0)
            return true
        }
        if try accepts(255) { return 255 }
        guard try accepts(shortest) else {
            throw ArchiverError(
                .backend, "\(store.root) refuses file names of \(shortest) bytes; it cannot hold a repository",
                subject: store.root)
        }
        var good = shortest
        var bad = 255
        while bad - good > 1 {
            let middle = (good + bad) / 2
            if try accepts(middle) { good = middle } else { bad = middle }
        }
        return good
    }
}

/// Looks up a folder's file system in /proc/self/mountinfo.
enum MountTable {
    /// The type of the file system holding `folder` (`ext4`, `vfat`), or nil when the table is unreadable.
    ///
    /// The mount whose device number is the folder's wins; file systems that report other device numbers for
    /// their files (btrfs subvolumes) fall back to the mount point that is the longest prefix of `path`.
    static func fileSystemType(of folder: OpenDirectory, path: String) -> String? {
        guard let table = read() else { return nil }
        var device: (major: UInt64, minor: UInt64)?
        var info = stat()
        if fstat(folder.fd, &info) == 0 {
            let dev = UInt64(info.st_dev)
            // glibc's encoding of dev_t (gnu_dev_major / gnu_dev_minor).
            device = (((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff), (dev & 0xff) | ((dev >> 12) & ~0xff))
        }
        var byPrefix: (length: Int, type: String)?
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, dash + 1 < fields.count else { continue }
            let type = String(fields[dash + 1])
            if let device, fields[2] == "\(device.major):\(device.minor)" { return type }
            let mountPoint = unescape(fields[4])
            let isPrefix = path == mountPoint || mountPoint == "/" || path.hasPrefix(mountPoint + "/")
            if isPrefix && mountPoint.count >= (byPrefix?.length ?? -1) {
                byPrefix = (mountPoint.count, type)
            }
        }
        return byPrefix?.type
    }

    private static func read() -> String? {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = retryingInterrupts {
                buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Undoes the table's octal escapes (`\040` for a space).
    private static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
