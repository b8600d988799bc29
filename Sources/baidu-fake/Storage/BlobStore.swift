import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The fake's disk: uploaded slices and committed file contents, one file each under `--data`.
/// Committed contents are immutable; copies are hard links, so deleting one name never touches another.
struct BlobStore: Sendable {
    /// The digests Baidu keeps of a file: the true MD5 (nil until first needed: hashing gigabytes at create
    /// would stall it) and the MD5 of its first 256 KiB (rapid upload).
    struct Digest: Sendable {
        var md5: String?
        var sliceMD5: String
        var size: Int
    }

    static let sliceMD5Length = 256 * 1024
    private static let copyChunk = 4 << 20

    let blobs: URL
    let slices: URL

    /// Prepares `root`; leftovers of an earlier run are removed (metadata lives only in memory).
    init(root: URL) throws {
        blobs = root.appendingPathComponent("blobs", isDirectory: true)
        slices = root.appendingPathComponent("slices", isDirectory: true)
        for folder in [blobs, slices] {
            try? FileManager.default.removeItem(at: folder)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
    }

    /// A fresh name for committed content.
    func newBlob() -> URL {
        blobs.appendingPathComponent(UUID().uuidString)
    }

    /// Stores one uploaded slice.
    func writeSlice(_ bytes: Data) throws -> URL {
        let url = slices.appendingPathComponent(UUID().uuidString)
        try bytes.write(to: url)
        return url
    }

    /// Concatenates `parts` into a new blob (one part is hard-linked, several are copied in the kernel) and
    /// hashes its first 256 KiB; the whole-content MD5 is left for later.
    func assemble(_ parts: [URL]) throws -> (blob: URL, digest: Digest) {
        let target = newBlob()
        do {
            if parts.count == 1 {
                try FileManager.default.linkItem(at: parts[0], to: target)
            } else {
                guard FileManager.default.createFile(atPath: target.path, contents: nil) else {
                    throw CocoaError(.fileWriteUnknown)
                }
                let output = try FileHandle(forWritingTo: target)
                defer { try? output.close() }
                for part in parts { try Self.append(part, to: output) }
            }
            let input = try FileHandle(forReadingFrom: target)
            defer { try? input.close() }
            let head = try input.read(upToCount: Self.sliceMD5Length) ?? Data()
            let size = try input.seekToEnd()
            return (target, Digest(md5: nil, sliceMD5: head.md5Hex, size: Int(size)))
        } catch {
            try? FileManager.default.removeItem(at: target)
            throw error
        }
    }

    /// Appends a file to `output`: sendfile on Linux (no bytes through user space), else a buffered copy.
    private static func append(_ part: URL, to output: FileHandle) throws {
        let input = try FileHandle(forReadingFrom: part)
        defer { try? input.close() }
        #if canImport(Glibc)
            while true {
                let sent = sendfile(output.fileDescriptor, input.fileDescriptor, nil, 1 << 30)
                if sent == 0 { return }
                if sent < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
            }
        #else
            while let chunk = try input.read(upToCount: copyChunk), !chunk.isEmpty {
                try output.write(contentsOf: chunk)
            }
        #endif
    }

    /// Copies a local file into a new blob with all its digests.
    private func copyHashing(_ source: URL) throws -> (blob: URL, digest: Digest) {
        let target = newBlob()
        guard FileManager.default.createFile(atPath: target.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown)
        }
        do {
            let output = try FileHandle(forWritingTo: target)
            defer { try? output.close() }
            let input = try FileHandle(forReadingFrom: source)
            defer { try? input.close() }
            var hasher = DigestBuilder()
            while let chunk = try input.read(upToCount: Self.copyChunk), !chunk.isEmpty {
                hasher.update(chunk)
                try output.write(contentsOf: chunk)
            }
            return (target, hasher.finish())
        } catch {
            try? FileManager.default.removeItem(at: target)
            throw error
        }
    }

    /// Copies a local file into a new blob; also returns the MD5 of each `sliceSize` slice.
    func importFile(_ source: URL, sliceSize: Int) throws -> (blob: URL, digest: Digest, blockList: [String]) {
        let (blob, digest) = try copyHashing(source)
        var blockList: [String] = []
        let input = try FileHandle(forReadingFrom: blob)
        defer { try? input.close() }
        while let chunk = try input.read(upToCount: sliceSize), !chunk.isEmpty {
            blockList.append(Insecure.MD5.hash(data: chunk).hex)
        }
        return (blob, digest, blockList)
    }

    /// A second name for the same immutable content.
    func link(_ blob: URL) throws -> URL {
        let target = newBlob()
        try FileManager.default.linkItem(at: blob, to: target)
        return target
    }

    /// The MD5 of a stored file, by streaming.
    func md5(of url: URL) throws -> String {
        var hasher = Insecure.MD5()
        let input = try FileHandle(forReadingFrom: url)
        defer { try? input.close() }
        while let chunk = try input.read(upToCount: Self.copyChunk), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().hex
    }

    /// Removes a blob or slice; missing files are fine.
    func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Computes the whole-content MD5 and the first-256-KiB MD5 in one pass.
struct DigestBuilder {
    private var whole = Insecure.MD5()
    private var head = Insecure.MD5()
    private var size = 0

    mutating func update(_ chunk: Data) {
        whole.update(data: chunk)
        if size < BlobStore.sliceMD5Length {
            head.update(data: chunk.prefix(BlobStore.sliceMD5Length - size))
        }
        size += chunk.count
    }

    func finish() -> BlobStore.Digest {
        BlobStore.Digest(md5: whole.finalize().hex, sliceMD5: head.finalize().hex, size: size)
    }
}

extension Sequence<UInt8> {
    /// Lowercase hexadecimal text.
    var hex: String {
        map { String(format: "%02x", $0) }.joined()
    }
}
