import ArchiverKit
import Foundation
import Glibc

/// The small files beside `token_file`: written atomically with mode 0600, and an exclusive lock that
/// serialises refreshes across processes.
enum TokenFiles {
    /// Writes `bytes` to `path` through a temporary file in the same folder: created 0600, flushed, then renamed
    /// over the old file and the folder flushed, so a crash leaves the old or the new file, never half of one.
    /// - Throws: `ArchiverError(.io)`.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let temporary = "\(folder)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("create \(temporary)") }
        var ok = fchmod(fd, 0o600) == 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while ok && offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { ok = false } else { offset += n }
            }
        }
        ok = ok && fsync(fd) == 0
        let code = errno
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let error = failure("write \(path)", code: ok ? errno : code)
            unlink(temporary)
            throw error
        }
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderFD >= 0 {
            _ = fsync(folderFD)
            close(folderFD)
        }
    }

    /// The file's bytes, or nil when it does not exist.
    /// - Throws: `ArchiverError(.io)` when it exists but cannot be read.
    static func read(_ path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw failure("read \(path)") }
        return [UInt8](data)
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func failure(_ what: String, code: Int32 = errno) -> ArchiverError {
        ArchiverError(.io, "cannot \(what): \(String(cString: strerror(code)))", subject: nil)
    }
}

/// An exclusive `flock` on `<token_file>.lock`, held while a refresh or a login writes the token file.
///
/// `flock` locks belong to the open file description, so two refreshes in one process exclude each other as two
/// processes do, and the lock may be released from another thread than the one that took it.
final class TokenFileLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Waits for the lock on a thread of its own (never on the concurrency pool).
    /// - Throws: `ArchiverError(.io)` when the lock file cannot be opened.
    static func acquire(_ path: String) async throws -> TokenFileLock {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    continuation.resume(throwing: TokenFiles.failure("open the lock file \(path)"))
                    return
                }
                while flock(fd, LOCK_EX) != 0 {
                    if errno == EINTR { continue }
                    let error = TokenFiles.failure("lock \(path)")
                    close(fd)
                    continuation.resume(throwing: error)
                    return
                }
                continuation.resume(returning: TokenFileLock(fd: fd))
            }
            thread.name = "archiver.baidu.lock"
            thread.start()
        }
    }

    /// Releases the lock.
    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
