import ArchiverKit
import Crypto
import Dispatch
import Foundation

/// Deterministic pseudo-random bytes (splitmix64), so large objects can be produced twice (a digest pass, then
/// the upload) and compared without keeping them.
final class PatternSource: ByteSource, @unchecked Sendable {
    private var state: UInt64
    private var remaining: Int64
    private var pending: UInt64 = 0
    private var pendingCount = 0

    /// A source of `count` bytes determined by `seed`.
    init(seed: UInt64, count: Int64) {
        self.state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        self.remaining = count
    }

    private func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = Int(min(Int64(buffer.count), remaining))
        var offset = 0
        // Whole words first: the byte loop alone is slow in debug builds.
        while pendingCount == 0 && count - offset >= 8 {
            buffer.storeBytes(of: next().littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < count {
            if pendingCount == 0 {
                pending = next()
                pendingCount = 8
            }
            buffer[offset] = UInt8(truncatingIfNeeded: pending)
            pending >>= 8
            pendingCount -= 1
            offset += 1
        }
        remaining -= Int64(count)
        return count
    }

    /// The bytes of a small pattern, in memory.
    static func bytes(seed: UInt64, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let source = PatternSource(seed: seed, count: Int64(count))
        _ = bytes.withUnsafeMutableBytes { try? source.readFull(into: $0) }
        return bytes
    }
}

/// Runs blocking work (the pipeline, a writer's `write`) on its own thread, as the core does.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// The core's digests of a stream, computed by its pipeline (plain, uncompressed: the stored bytes are the
/// source's bytes), exactly as its hashes-first upload path computes them.
///
/// The pipeline is slow in debug builds (about 20 s per 64 MiB), so large objects use `StreamHasher` instead.
/// - Parameters:
///   - makeSource: makes the stream; called once.
///   - sliceSize: the backend's slice size.
func coreUploadDigests(of makeSource: @escaping @Sendable () -> any ByteSource, sliceSize: Int) async throws
    -> UploadDigests
{
    var options = EncodeOptions(recipients: [], compression: .off)
    options.digests = .baidu
    options.sliceSize = sliceSize
    let encoded = try await blocking { [options] in
        try ObjectPipeline.encode(from: makeSource(), to: DiscardSink(), options: options)
    }
    return UploadDigests(
        size: encoded.storedSize, md5: encoded.storedMD5 ?? [], headMD5: encoded.headMD5 ?? [],
        sliceMD5s: encoded.sliceMD5s)
}

/// Hashes a stream as it passes: SHA-256 for comparisons, and the digests a hashes-first backend wants.
///
/// Written independently of the mock's checker, so a shared mistake cannot make the two agree.
struct StreamHasher {
    private let sliceSize: Int
    private var count: Int64 = 0
    private var sha = SHA256()
    private var md5 = Insecure.MD5()
    private var head = Insecure.MD5()
    private var slice = Insecure.MD5()
    private var sliceFill = 0
    private var slices: [[UInt8]] = []

    init(sliceSize: Int = 4 << 20) { self.sliceSize = sliceSize }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        sha.update(bufferPointer: bytes)
        md5.update(bufferPointer: bytes)
        if count < 256 * 1024 {
            let taken = min(bytes.count, 256 * 1024 - Int(count))
            head.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[0..<taken]))
        }
        var offset = 0
        while offset < bytes.count {
            let taken = min(bytes.count - offset, sliceSize - sliceFill)
            slice.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + taken]))
            sliceFill += taken
            offset += taken
            if sliceFill == sliceSize {
                slices.append(Array(slice.finalize()))
                slice = Insecure.MD5()
                sliceFill = 0
            }
        }
        count += Int64(bytes.count)
    }

    /// The SHA-256 of everything so far.
    var sha256: [UInt8] { Array(sha.finalize()) }

    /// The upload digests of everything so far.
    var uploadDigests: UploadDigests {
        var slices = self.slices
        if sliceFill > 0 { slices.append(Array(slice.finalize())) }
        return UploadDigests(
            size: count, md5: Array(md5.finalize()), headMD5: Array(head.finalize()), sliceMD5s: slices)
    }

    /// Hashes a whole source.
    static func hash(_ source: any ByteSource, sliceSize: Int = 4 << 20) throws -> StreamHasher {
        var hasher = StreamHasher(sliceSize: sliceSize)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if count == 0 { return hasher }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }
}

/// Stores a stream as a new object the way the core drives a writer: digests first when the backend needs
/// them, then the bytes in 1 MiB writes from a thread of its own, then commit. Nothing is held whole.
/// - Returns: the object's description and the SHA-256 of the bytes sent.
@discardableResult
func putStream(
    _ backend: any RemoteBackend, _ name: ObjectName, size: Int64,
    source makeSource: @escaping @Sendable () -> any ByteSource
) async throws -> (info: ObjectInfo, sha256: [UInt8]) {
    let capabilities = backend.capabilities
    let sliceSize = capabilities.sliceSize ?? 4 << 20
    var digests: UploadDigests?
    if capabilities.needsDigestsBeforeUpload {
        digests = try await blocking { try StreamHasher.hash(makeSource(), sliceSize: sliceSize).uploadDigests }
    }
    let writer = try await backend.openWriter(for: name, size: size, digests: digests)
    do {
        let sent = try await blocking {
            let source = makeSource()
            var hasher = StreamHasher(sliceSize: sliceSize)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try source.readFull(into: $0) }
                if count == 0 { return hasher.sha256 }
                try buffer.withUnsafeBytes { all in
                    let piece = UnsafeRawBufferPointer(rebasing: all[0..<count])
                    hasher.update(piece)
                    try writer.write(piece)
                }
            }
        }
        return (try await writer.commit(), sent)
    } catch {
        await writer.abort()
        throw error
    }
}

/// SHA-256 of everything a source yields, read in 1 MiB pieces.
func sha256(of source: any ByteSource) async throws -> [UInt8] {
    try await blocking { try StreamHasher.hash(source).sha256 }
}

/// Stores bytes as a new object, written in pieces of `chunk` bytes.
@discardableResult
func put(_ backend: any RemoteBackend, _ name: ObjectName, _ bytes: [UInt8], chunk: Int = 64 * 1024) async throws
    -> ObjectInfo
{
    let writer = try await backend.openWriter(
        for: name, size: Int64(bytes.count), digests: try await digestsIfNeeded(backend, bytes))
    do {
        try await blocking {
            try bytes.withUnsafeBytes { all in
                var offset = 0
                while offset < all.count {
                    let end = min(offset + chunk, all.count)
                    try writer.write(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                }
            }
        }
        return try await writer.commit()
    } catch {
        await writer.abort()
        throw error
    }
}

/// The digests of `bytes` when the backend wants them before an upload.
func digestsIfNeeded(_ backend: any RemoteBackend, _ bytes: [UInt8]) async throws -> UploadDigests? {
    let capabilities = backend.capabilities
    guard capabilities.needsDigestsBeforeUpload else { return nil }
    return try await coreUploadDigests(of: { MemorySource(bytes) }, sliceSize: capabilities.sliceSize ?? 4 << 20)
}

/// Reads an object, or a range of it, into memory (small objects only).
func get(_ backend: any RemoteBackend, _ name: ObjectName, range: Range<Int64>? = nil) async throws -> [UInt8] {
    let reader = try await backend.openReader(for: name, range: range)
    let bytes = try await blocking {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 100_000)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if count == 0 { break }
            result += buffer[0..<count]
        }
        return result
    }
    await reader.close()
    return bytes
}

/// Every object under `prefix`, following the pages.
/// - Returns: the names, and how many pages it took.
func listAll(_ backend: any RemoteBackend, prefix: String, limit: Int = 1000) async throws
    -> (names: [String], pages: Int)
{
    var names: [String] = []
    var cursor: String?
    var pages = 0
    repeat {
        let page = try await backend.list(prefix: prefix, cursor: cursor, limit: limit)
        pages += 1
        names += page.objects.map(\.name.value)
        cursor = page.nextCursor
    } while cursor != nil
    return (names, pages)
}

/// Names in ascending byte order, as listings return them.
func byteSorted(_ names: [String]) -> [String] {
    names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
}
