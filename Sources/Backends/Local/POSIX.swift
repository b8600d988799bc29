import Dispatch
import Foundation
import Glibc

/// An open directory descriptor, closed when the last reference goes away.
///
/// The file store works relative to directory descriptors (`openat`, `renameat2`, `fsync`) so a folder swapped for
/// a symbolic link halfway through an operation is never followed.
final class OpenDirectory: Sendable {
    /// The descriptor.
    let fd: Int32

    /// Takes ownership of an open directory descriptor.
    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Flushes the directory's entries (a new name, a removed one) to stable storage.
    /// - Returns: 0, or the `errno` of the failure.
    func sync() -> Int32 {
        fsync(fd) == 0 ? 0 : errno
    }
}

/// The error behind a failed system call, kept as an `ArchiverError`'s cause.
/// - Parameter code: an `errno` value.
func posixCause(_ code: Int32) -> POSIXError {
    POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
}

/// The C library's text for an `errno` value.
/// - Parameter code: an `errno` value.
func posixReason(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Runs a system call again while a signal interrupts it.
/// - Parameter call: returns -1 with `errno` set on failure.
/// - Returns: what the call returned.
func retryingInterrupts<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// The `stat` facts the store needs, read without following a final symbolic link.
struct FileFacts {
    /// Whether the entry is a regular file.
    var isRegularFile: Bool
    /// Whether the entry is a directory.
    var isDirectory: Bool
    /// Size in bytes.
    var size: Int64
    /// Last modification.
    var modified: Date
    /// Device and inode, to tell whether two names lead to one file.
    var identity: FileIdentity

    /// Reads the facts of `name` inside `directory`.
    /// - Returns: the facts, or the `errno` of the failure.
    static func of(_ name: String, in directory: OpenDirectory) -> Result<FileFacts, POSIXError> {
        var info = stat()
        guard fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(posixCause(errno)) }
        return .success(FileFacts(info))
    }

    /// Reads the facts of an open descriptor.
    static func of(descriptor fd: Int32) -> Result<FileFacts, POSIXError> {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(posixCause(errno)) }
        return .success(FileFacts(info))
    }

    private init(_ info: stat) {
        let type = info.st_mode & S_IFMT
        isRegularFile = type == S_IFREG
        isDirectory = type == S_IFDIR
        size = Int64(info.st_size)
        modified = Date(
            timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
        identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// A file's device and inode numbers: equal for two names of one file.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
}

/// Runs blocking file-system work off the Swift concurrency pool.
///
/// `fsync` on a USB disk can take seconds; on a two-core machine the cooperative pool has two threads, and
/// blocking them would stall every task of the program. Dispatch's global queue grows threads for blocking work.
/// - Parameter work: the blocking work.
/// - Returns: what `work` returns.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .utility).async {
            continuation.resume(with: Result { try work() })
        }
    }
}

/// `offload` for work that cannot fail.
func offload(_ work: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .utility).async {
            work()
            continuation.resume()
        }
    }
}
