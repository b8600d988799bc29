import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether a catalog instance currently holds the run lock; shared with the locks it hands out so that
/// `beginRun` can insist on it.
final class LockFlag: Sendable {
    private let count = Mutex(0)

    var isHeld: Bool { count.withLock { $0 > 0 } }
    func acquired() { count.withLock { $0 += 1 } }
    func released() { count.withLock { $0 -= 1 } }
}

/// What the lock file says about its holder, so a refused second run can name it.
struct LockHolder: Codable, Sendable {
    var pid: Int32
    var host: String
    var command: String
    var started: String

    var summary: String {
        "pid \(pid) on \(host), `\(command)`, started \(started)"
    }
}

/// The catalog's run lock: one backup at a time. Released by `release()` or when the value goes away; the kernel
/// also drops it if the process dies, so a crash never leaves a stale lock behind.
///
/// The lock is `flock` on `<catalog>.lock`, which is never deleted: deleting it would let two processes each lock
/// a different file of the same name.
public final class CatalogLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Mutex<Int32>
    private let flag: LockFlag

    init(path: String, descriptor: Int32, flag: LockFlag) {
        self.path = path
        self.descriptor = Mutex(descriptor)
        self.flag = flag
        flag.acquired()
    }

    deinit { release() }

    /// Whether the lock is still held.
    public var isHeld: Bool { descriptor.withLock { $0 >= 0 } }

    /// Releases the lock; later calls do nothing.
    public func release() {
        let fd = descriptor.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        guard fd >= 0 else { return }
        // Clear the holder's details while still holding the lock, so nobody reads them after we are gone.
        _ = ftruncate(fd, 0)
        _ = close(fd)
        flag.released()
    }

    /// Opens and locks `path`, writing the holder's details into it.
    static func acquire(path: String, command: String, flag: LockFlag) throws -> CatalogLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ArchiverError(.catalog, "cannot open the catalog lock file: \(errorText(errno))", subject: path)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = readHolder(fd)
            _ = close(fd)
            if code == EWOULDBLOCK {
                let who = holder.map { "another archiver (\($0.summary))" } ?? "another archiver"
                throw ArchiverError(
                    .locked, "\(who) holds the catalog lock; wait for it to finish or stop it, then try again",
                    subject: path)
            }
            throw ArchiverError(.catalog, "cannot lock the catalog: \(errorText(code))", subject: path)
        }
        let lock = CatalogLock(path: path, descriptor: fd, flag: flag)
        let started = UTCStamp.iso8601(Date())
        let holder = LockHolder(
            pid: getpid(), host: ProcessInfo.processInfo.hostName, command: command, started: started)
        do {
            var bytes = [UInt8](try JSONEncoder().encode(holder))
            bytes.append(0x0A)
            guard ftruncate(fd, 0) == 0 else { throw ArchiverError(.catalog, errorText(errno), subject: path) }
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard written == bytes.count else {
                throw ArchiverError(.catalog, "cannot write the catalog lock file: \(errorText(errno))", subject: path)
            }
        } catch {
            lock.release()
            throw error
        }
        return lock
    }

    /// The holder's details, or nil when the file is empty or half written (its holder may be starting up).
    private static func readHolder(_ fd: Int32) -> LockHolder? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return try? JSONDecoder().decode(LockHolder.self, from: Data(buffer[..<count]))
    }
}

/// `strerror` as a Swift string.
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
