import ArchiverKit
import Foundation

/// An output that appears under its name only when complete: bytes go to a temporary file beside it, which is
/// flushed and renamed into place by `commit()`. `-` writes to stdout instead (streaming, no such guarantee).
final class OutputFile {
    let path: String
    let sink: FileDescriptorSink
    private let temporary: String?

    init(path: String, overwrite: Bool, mode: mode_t = 0o644) throws {
        self.path = path
        if path == "-" {
            temporary = nil
            sink = FileDescriptorSink(fd: STDOUT_FILENO, label: "stdout", closeWhenDone: false)
            return
        }
        var existing = stat()
        if lstat(path, &existing) == 0 && existing.st_mode & S_IFMT != S_IFREG && existing.st_mode & S_IFMT != S_IFLNK
            && existing.st_mode & S_IFMT != S_IFDIR
        {
            // A device or a pipe (/dev/null, a FIFO): write into it; renaming over it would replace the node.
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ArchiverError.posix("cannot open for writing", path: path) }
            temporary = nil
            sink = FileDescriptorSink(fd: fd, label: path, closeWhenDone: true)
            return
        }
        if !overwrite, FileManager.default.fileExists(atPath: path) {
            throw ArchiverError(.usage, "\(path) already exists; choose another name or pass --force to replace it")
        }
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).archiver-\(UUID().uuidString.prefix(8)).tmp").path
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw ArchiverError(.io, "cannot create a file beside \(path): \(reason)")
        }
        temporary = temp
        Interrupts.register(temp)
        sink = FileDescriptorSink(fd: fd, label: path, closeWhenDone: true)
    }

    /// Whether the output is a regular file written under a temporary name (not stdout, a device or a pipe).
    var isRegularFile: Bool { temporary != nil }

    /// Flushes the data to disk and renames it into place.
    func commit() throws {
        guard let temporary else { return }
        try sink.sync()
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw ArchiverError(.io, "cannot rename the finished output into place: \(reason)", subject: path)
        }
        Interrupts.unregister(temporary)
    }

    /// Removes the temporary file; the destination is untouched.
    func discard() {
        guard let temporary else { return }
        unlink(temporary)
        Interrupts.unregister(temporary)
    }
}

/// Opens a command's input: a path, or `-` for stdin.
func openInput(_ path: String) throws -> any ByteSource {
    if path == "-" { return FileDescriptorSource(fd: STDIN_FILENO, label: "stdin", closeWhenDone: false) }
    return try FileDescriptorSource(path: path)
}
