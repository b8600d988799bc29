#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What kind of file system object a directory entry is, from the type bits of its mode.
public enum FileKind: Sendable, Equatable {
    case file, directory, symlink, fifo, socket, characterDevice, blockDevice, unknown

    /// The kind named by the `S_IFMT` bits of a `st_mode`.
    /// - Parameter mode: a full `st_mode`.
    public init(mode: UInt32) {
        switch mode & 0o170000 {
        case 0o100000: self = .file
        case 0o040000: self = .directory
        case 0o120000: self = .symlink
        case 0o010000: self = .fifo
        case 0o140000: self = .socket
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        default: self = .unknown
        }
    }

    /// Why an entry of this kind is not backed up, phrased to follow its path in a report ("is a FIFO; skipped");
    /// nil for files, directories and symlinks, which are.
    ///
    /// Opening a FIFO blocks until a writer comes and reading a device can hang or have side effects (a tape
    /// rewinds), and neither has contents worth keeping, so the engine skips them and says so.
    public var skipReason: String? {
        switch self {
        case .file, .directory, .symlink: nil
        case .fifo: "is a FIFO; skipped"
        case .socket: "is a socket; skipped"
        case .characterDevice, .blockDevice: "is a device file; skipped"
        case .unknown: "has an unknown file type; skipped"
        }
    }

    /// The kind with an article, for messages ("is a FIFO, not a regular file").
    var noun: String {
        switch self {
        case .file: "a regular file"
        case .directory: "a directory"
        case .symlink: "a symbolic link"
        case .fifo: "a FIFO"
        case .socket: "a socket"
        case .characterDevice, .blockDevice: "a device file"
        case .unknown: "of an unknown file type"
        }
    }
}

/// One lstat of one directory entry: everything change detection and restore need.
public struct ScannedEntry: Sendable, Equatable {
    /// The entry's name: one path component, exact bytes.
    public var name: [UInt8]
    /// What it is; symlinks are never followed, so a link to a directory is `.symlink`.
    public var kind: FileKind
    /// Size in bytes (for a symlink, the length of its target).
    public var size: Int64
    /// Last modification, nanoseconds since 1970 (saturated at the ends of `Int64`'s range).
    public var mtimeNs: Int64
    /// Last status change, nanoseconds since 1970: moves on any write, chmod, chown or link, and cannot be set
    /// from user space, which is why change detection trusts it more than `mtimeNs`.
    public var ctimeNs: Int64
    /// Inode number.
    public var inode: UInt64
    /// Device the entry lives on.
    public var device: UInt64
    /// The full `st_mode`: type bits and permission bits (`permissions` has the latter alone).
    public var mode: UInt32
    /// Owner.
    public var uid: UInt32
    /// Group.
    public var gid: UInt32
    /// Number of hard links.
    public var linkCount: UInt64

    /// Creates an entry from stored values (a catalog row, a test).
    public init(
        name: [UInt8], kind: FileKind, size: Int64, mtimeNs: Int64, ctimeNs: Int64, inode: UInt64, device: UInt64,
        mode: UInt32, uid: UInt32, gid: UInt32, linkCount: UInt64
    ) {
        self.name = name
        self.kind = kind
        self.size = size
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.inode = inode
        self.device = device
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.linkCount = linkCount
    }

    /// The permission bits of `mode`, with setuid, setgid and sticky.
    public var permissions: UInt32 { mode & 0o7777 }

    init(name: [UInt8], stat st: stat) {
        self.init(
            name: name, kind: FileKind(mode: UInt32(st.st_mode)), size: Int64(st.st_size),
            mtimeNs: Self.nanoseconds(st.st_mtim), ctimeNs: Self.nanoseconds(st.st_ctim),
            inode: UInt64(st.st_ino), device: UInt64(st.st_dev), mode: UInt32(st.st_mode),
            uid: UInt32(st.st_uid), gid: UInt32(st.st_gid), linkCount: UInt64(st.st_nlink))
    }

    /// A timestamp in nanoseconds, saturating: cameras and broken clocks leave dates far outside the ±292 years
    /// `Int64` nanoseconds can hold, and such a file must still be backed up, not crash the scan.
    private static func nanoseconds(_ time: timespec) -> Int64 {
        let seconds = Int64(time.tv_sec)
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = scaled.addingReportingOverflow(Int64(time.tv_nsec))
        return overflow2 ? .max : total
    }
}

/// Something about one path the scan could not back up, reported to the user without stopping the run.
public struct ScanProblem: Sendable, Equatable {
    /// The path relative to the source root.
    public var relativePath: [UInt8]
    /// What went wrong, phrased to follow the path: "permission denied", "is a FIFO; skipped",
    /// "vanished while scanned".
    public var message: String

    /// Creates a problem report.
    /// - Parameters:
    ///   - relativePath: the path concerned.
    ///   - message: what went wrong.
    public init(relativePath: [UInt8], message: String) {
        self.relativePath = relativePath
        self.message = message
    }
}

/// Whether a file changed between two looks at it, typically the `fstat` right after opening and the one after
/// reading it through.
///
/// Any of size, modification time, status-change time, inode or device moving means the bytes read may be a
/// mix of old and new contents. ctime catches writers that restore mtime afterwards (as `touch -r` and some sync
/// tools do); inode and device catch a file replaced by rename. It also moves on chmod or a new hard link, which
/// then reports a change that did not touch the contents: a rare false alarm, preferred to a silent torn copy.
/// - Parameters:
///   - before: the first look.
///   - after: the second.
/// - Returns: true when the file may have changed in between.
public func fileFingerprintChanged(before: ScannedEntry, after: ScannedEntry) -> Bool {
    before.size != after.size || before.mtimeNs != after.mtimeNs || before.ctimeNs != after.ctimeNs
        || before.inode != after.inode || before.device != after.device
}
