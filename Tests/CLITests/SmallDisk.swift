import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A small tmpfs mounted on a folder for one test, so a disk really fills up (`mount -t tmpfs -o size=…`, which
/// needs root or CAP_SYS_ADMIN). Call `unmount()` in a `defer` right after mounting: the folder's owner removes it
/// afterwards, and an unmounted tmpfs must never outlive its test.
final class SmallDisk {
    let path: String
    private var mounted = true

    private init(path: String) { self.path = path }

    /// Mounts a tmpfs of `size` (e.g. "1m") on `path`, creating the folder. When that is not permitted, records an
    /// issue naming the reason and returns nil: a full-disk case that did not run must not read as passed.
    static func mount(at path: String, size: String) throws -> SmallDisk? {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = try CommandRunner.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        guard result.status == 0 else {
            let reason = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            Issue.record(
                "cannot mount a \(size) tmpfs on \(path) (\(reason)): the full-disk case needs root (CAP_SYS_ADMIN), as CI has; it did not run")
            return nil
        }
        return SmallDisk(path: path)
    }

    /// Gives the disk a new size (tmpfs keeps its files): how a test "frees space".
    func resize(_ size: String) throws {
        let result = try CommandRunner.run("/bin/mount", ["-o", "remount,size=\(size)", path])
        try #require(result.status == 0, "remount \(path): \(result.stderr)")
    }

    /// Fills the disk with a file, leaving about `free` bytes.
    func fill(leaving free: Int) throws {
        let filler = path + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        let chunk = [UInt8](repeating: 0xAB, count: 64 * 1024)
        var written = 0
        while true {
            let count = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            written += count
        }
        _ = ftruncate(fd, off_t(max(0, written - free)))
        close(fd)
    }

    /// Removes the filler `fill` wrote.
    func drain() throws {
        try FileManager.default.removeItem(atPath: path + "/filler")
    }

    /// Unmounts (lazily, if something still holds a file open); safe to call twice.
    func unmount() {
        guard mounted else { return }
        mounted = false
        _ = try? CommandRunner.run("/bin/umount", ["-l", path])
    }

    deinit { unmount() }
}
