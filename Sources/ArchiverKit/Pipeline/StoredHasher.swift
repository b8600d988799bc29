import Crypto

/// Which digests of the stored bytes a pipeline computes as they leave.
///
/// Each costs CPU on the hot path, so a caller asks only for what its backend or catalog needs.
public struct StoredDigests: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    /// Creates a set from its raw value.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// MD5 of the whole stored object (Baidu's `content-md5`).
    public static let md5 = StoredDigests(rawValue: 1)
    /// SHA-256 of the whole stored object (the catalog's integrity check without a key).
    public static let sha256 = StoredDigests(rawValue: 2)
    /// MD5 of each slice of `sliceSize` bytes (Baidu's `block_list`).
    public static let sliceMD5s = StoredDigests(rawValue: 4)
    /// MD5 of the first 256 KiB (Baidu's `slice-md5`).
    public static let headMD5 = StoredDigests(rawValue: 8)
    /// Everything the Baidu upload needs.
    public static let baidu: StoredDigests = [.md5, .sliceMD5s, .headMD5, .sha256]
}

/// Hashes stored bytes as they pass, in the order they will be stored. `package` so a backend that checks uploads
/// against announced digests (the mock's Baidu rules) hashes exactly as the pipeline does.
package struct StoredHasher {
    package static let headSize = 256 * 1024

    package let digests: StoredDigests
    package let sliceSize: Int
    package private(set) var count: Int64 = 0
    private var md5 = Insecure.MD5()
    private var sha = SHA256()
    private var slice = Insecure.MD5()
    private var sliceFill = 0
    private var head = Insecure.MD5()
    private(set) var sliceMD5s: [[UInt8]] = []

    package init(digests: StoredDigests, sliceSize: Int) {
        precondition(sliceSize > 0)
        self.digests = digests
        self.sliceSize = sliceSize
    }

    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if digests.contains(.md5) { md5.update(bufferPointer: bytes) }
        if digests.contains(.sha256) { sha.update(bufferPointer: bytes) }
        if digests.contains(.headMD5) && count < Int64(Self.headSize) {
            let n = min(bytes.count, Self.headSize - Int(count))
            head.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[0..<n]))
        }
        if digests.contains(.sliceMD5s) {
            var offset = 0
            while offset < bytes.count {
                let n = min(bytes.count - offset, sliceSize - sliceFill)
                slice.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
                sliceFill += n
                offset += n
                if sliceFill == sliceSize {
                    sliceMD5s.append(Array(slice.finalize()))
                    slice = Insecure.MD5()
                    sliceFill = 0
                }
            }
        }
        count += Int64(bytes.count)
    }

    /// Closes the digests; the partial last slice becomes the last slice MD5.
    package mutating func finish() -> (md5: [UInt8]?, sha256: [UInt8]?, slices: [[UInt8]], head: [UInt8]?) {
        if digests.contains(.sliceMD5s) && sliceFill > 0 {
            sliceMD5s.append(Array(slice.finalize()))
            sliceFill = 0
        }
        return (
            digests.contains(.md5) ? Array(md5.finalize()) : nil,
            digests.contains(.sha256) ? Array(sha.finalize()) : nil,
            sliceMD5s,
            digests.contains(.headMD5) ? Array(head.finalize()) : nil
        )
    }
}

extension UploadDigests {
    /// The digests of a small object held in memory (markers, MACs), for backends that want them first.
    /// - Parameters:
    ///   - bytes: the whole object.
    ///   - sliceSize: the backend's slice size.
    public init(of bytes: [UInt8], sliceSize: Int) {
        var hasher = StoredHasher(digests: [.md5, .sliceMD5s, .headMD5], sliceSize: sliceSize)
        bytes.withUnsafeBytes { hasher.update($0) }
        let result = hasher.finish()
        self.init(size: Int64(bytes.count), md5: result.md5 ?? [], headMD5: result.head ?? [], sliceMD5s: result.slices)
    }
}
