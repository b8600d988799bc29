import Foundation

/// Runs blocking work (the pipeline, file I/O) on a dedicated thread and awaits it, so the Swift concurrency
/// pool — two threads on a two-core NAS — is never blocked by a file read or a backend writer that waits.
enum BlockingWork {
    static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.name = name
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// SHA-256 of the first `length` bytes of an open file, read with `pread` on a dedicated thread.
    static func sha256(fd: Int32, length: Int64, label: String) async throws -> [UInt8] {
        try await sha256(of: FileRangeSource(fd: fd, offset: 0, length: length, label: label)).digest
    }

    /// SHA-256 and length of everything a source yields, read on a dedicated thread.
    static func sha256(of source: any ByteSource) async throws -> (digest: [UInt8], count: Int64) {
        try await run("archiver.hash") {
            var sha = SHA256Box()
            var count: Int64 = 0
            // Untouched memory: zero-filling a megabyte per small file cost more than hashing it.
            var buffer = [UInt8].untouched(count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try source.readFull(into: $0) }
                if n == 0 { break }
                count += Int64(n)
                buffer.withUnsafeBytes { sha.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            return (sha.finalize(), count)
        }
    }
}

/// Reads a byte range of an open file with `pread`, so several segments of one file can be read without
/// moving a shared offset.
final class FileRangeSource: ByteSource, @unchecked Sendable {
    private let fd: Int32
    private var offset: Int64
    private let end: Int64
    private let label: String

    init(fd: Int32, offset: Int64, length: Int64, label: String) {
        self.fd = fd
        self.offset = offset
        self.end = offset + length
        self.label = label
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let want = Int(min(Int64(buffer.count), end - offset))
        guard want > 0 else { return 0 }
        while true {
            let n = pread(fd, buffer.baseAddress, want, off_t(offset))
            if n >= 0 {
                offset += Int64(n)
                return n
            }
            if errno == EINTR { continue }
            throw ArchiverError.posix("cannot read", path: label)
        }
    }
}

/// Passes bytes on while hashing them with SHA-256 (the whole-plaintext check across segments).
final class HashingSink: ByteSink, @unchecked Sendable {
    private let inner: any ByteSink
    private var sha = SHA256Box()
    private(set) var count: Int64 = 0

    init(_ inner: any ByteSink) { self.inner = inner }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        sha.update(bytes)
        count += Int64(bytes.count)
        try inner.write(bytes)
    }

    func digest() -> [UInt8] { sha.finalize() }
}

import Crypto

/// SHA-256 state usable from a class (Crypto's SHA256 is a struct with mutating methods).
struct SHA256Box {
    private var state = SHA256()
    mutating func update(_ bytes: UnsafeRawBufferPointer) { state.update(bufferPointer: bytes) }
    func finalize() -> [UInt8] { Array(state.finalize()) }
}
