#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where a pipeline reads from: a file, stdin, or a stream from a backend.
///
/// Sources are used from one thread at a time but may be handed to a pipeline thread, hence `Sendable`.
public protocol ByteSource: AnyObject, Sendable {
    /// Reads up to `buffer.count` bytes.
    /// - Parameter buffer: where to put them.
    /// - Returns: the number of bytes read; 0 only at the end.
    /// - Throws: `ArchiverError` when reading fails.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Where a pipeline writes to: a file, stdout, a backend upload, or nothing (hashing only).
public protocol ByteSink: AnyObject, Sendable {
    /// Writes all of `bytes`.
    /// - Parameter bytes: the data, valid only during the call.
    /// - Throws: anything; the pipeline stops and rethrows it.
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSource {
    /// Reads until `buffer` is full or the source ends.
    /// - Parameter buffer: where to put the bytes.
    /// - Returns: bytes read; less than `buffer.count` only at the end.
    /// - Throws: what `read(into:)` throws.
    public func readFull(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }
}

/// A sink that keeps nothing: for hashing passes and dry runs.
public final class DiscardSink: ByteSink {
    /// Creates a sink that drops what it is given.
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws {}
}

/// A sink that collects bytes in memory. For tests and small metadata only, never for file contents.
public final class MemorySink: ByteSink, @unchecked Sendable {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []
    /// Creates an empty sink.
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
}

/// A source over bytes in memory. For tests and small metadata only.
public final class MemorySource: ByteSource, @unchecked Sendable {
    private let bytes: [UInt8]
    private var offset = 0
    /// Creates a source.
    /// - Parameter bytes: what it yields.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + n]))
        }
        offset += n
        return n
    }
}

/// Reads a file descriptor sequentially.
public final class FileDescriptorSource: ByteSource, @unchecked Sendable {
    /// The descriptor read from.
    public let fd: Int32
    private let label: String
    private let closeWhenDone: Bool

    /// Wraps an open descriptor.
    /// - Parameters:
    ///   - fd: an open, readable descriptor.
    ///   - label: the name used in error messages (a path, or "stdin").
    ///   - closeWhenDone: close `fd` when this object goes away.
    public init(fd: Int32, label: String, closeWhenDone: Bool) {
        self.fd = fd
        self.label = label
        self.closeWhenDone = closeWhenDone
    }

    /// Opens a file for reading.
    /// - Parameters:
    ///   - path: the file.
    ///   - followSymlinks: false refuses a symlink in the last path component (`O_NOFOLLOW`).
    /// - Throws: `ArchiverError(.io)` naming the path and the reason.
    public convenience init(path: String, followSymlinks: Bool = true) throws {
        var flags = O_RDONLY | O_CLOEXEC
        if !followSymlinks { flags |= O_NOFOLLOW }
        let fd = open(path, flags)
        guard fd >= 0 else { throw ArchiverError.posix("cannot open for reading", path: path) }
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        self.init(fd: fd, label: path, closeWhenDone: true)
    }

    deinit { if closeWhenDone { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ArchiverError.posix("cannot read", path: label)
        }
    }
}

/// Writes to a file descriptor.
public final class FileDescriptorSink: ByteSink, @unchecked Sendable {
    /// The descriptor written to.
    public let fd: Int32
    private let label: String
    private let closeWhenDone: Bool

    /// Wraps an open descriptor.
    /// - Parameters:
    ///   - fd: an open, writable descriptor.
    ///   - label: the name used in error messages.
    ///   - closeWhenDone: close `fd` when this object goes away.
    public init(fd: Int32, label: String, closeWhenDone: Bool) {
        self.fd = fd
        self.label = label
        self.closeWhenDone = closeWhenDone
    }

    deinit { if closeWhenDone { close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                let code = errno
                throw ArchiverError(
                    code == ENOSPC || code == EDQUOT ? .quota : .io,
                    "cannot write: \(String(cString: strerror(code)))", subject: label)
            }
        }
    }

    /// Flushes the file's data to stable storage.
    /// - Throws: `ArchiverError(.io)` when the disk refuses.
    public func sync() throws {
        guard fsync(fd) == 0 else { throw ArchiverError.posix("cannot flush to disk", path: label) }
    }
}

extension ArchiverError {
    /// An error from the current `errno`, naming the path (`.quota` for a full disk, `.io` otherwise).
    /// - Parameters:
    ///   - what: the operation, phrased for a sentence ("cannot open for reading").
    ///   - path: the file concerned.
    public static func posix(_ what: String, path: String) -> ArchiverError {
        let code = errno
        let reason = String(cString: strerror(code))
        let category: Code = (code == ENOSPC || code == EDQUOT) ? .quota : .io
        return ArchiverError(category, "\(what): \(reason)", subject: path)
    }
}
