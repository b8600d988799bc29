import ArchiverKit
import Glibc
import Synchronization

/// Reads one object of a `FileStore`, or a byte range of it.
final class FileObjectReader: ObjectReader {
    private struct State {
        /// Bytes left in the range; nil reads to the end of the file.
        var remaining: Int64?
        var open = true
    }

    private let fd: Int32
    private let label: String
    private let source: FileDescriptorSource
    private let state = Mutex(State())

    /// Takes ownership of a descriptor open for reading.
    /// - Parameters:
    ///   - fd: the descriptor.
    ///   - label: the file's path, for messages.
    init(fd: Int32, label: String) {
        self.fd = fd
        self.label = label
        self.source = FileDescriptorSource(fd: fd, label: label, closeWhenDone: false)
    }

    deinit {
        state.withLock { state in
            if state.open { Glibc.close(fd) }
        }
    }

    /// Restricts reading to `range`, which the caller checked against the file's size.
    func limit(to range: Range<Int64>, object: ObjectName, store: FileStore) throws {
        guard lseek(fd, off_t(range.lowerBound), SEEK_SET) >= 0 else {
            throw store.failure(errno, "seek in object \(object)", object: object)
        }
        state.withLock { $0.remaining = range.upperBound - range.lowerBound }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try state.withLock { state in
            guard state.open else {
                throw ArchiverError(.internalError, "read after close", subject: label)
            }
            guard let remaining = state.remaining else {
                return try source.read(into: buffer)
            }
            let wanted = Int(min(Int64(buffer.count), remaining))
            guard wanted > 0 else { return 0 }
            let count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]))
            if count == 0 {
                throw ArchiverError(
                    .backend, "the object ended \(remaining) bytes before the range asked for; it changed while read",
                    subject: label)
            }
            state.remaining = remaining - Int64(count)
            return count
        }
    }

    func close() async {
        state.withLock { state in
            if state.open {
                Glibc.close(fd)
                state.open = false
            }
        }
    }
}
