import ArchiverKit

/// Checks the bytes of an upload against the digests announced before it, as Baidu's `create` does: the size,
/// the MD5 of the whole, the MD5 of the first 256 KiB and the MD5 of every slice.
struct UploadDigestCheck {
    /// The digests announced.
    let expected: UploadDigests
    /// The slice size the slice MD5s were computed with.
    let sliceSize: Int
    private var hasher: StoredHasher

    /// Starts a check.
    init(expected: UploadDigests, sliceSize: Int) {
        self.expected = expected
        self.sliceSize = sliceSize
        self.hasher = StoredHasher(digests: [.md5, .headMD5, .sliceMD5s], sliceSize: sliceSize)
    }

    /// Hashes the next bytes of the upload.
    mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bytes) }

    /// Ends the upload.
    /// - Parameter size: the bytes received.
    /// - Returns: what disagrees, phrased for a message; empty when everything matches.
    mutating func finish(size: Int64) -> [String] {
        let actual = hasher.finish()
        let slices = actual.slices
        var mismatches: [String] = []
        if size != expected.size {
            mismatches.append("\(size) bytes received, \(expected.size) announced")
        }
        if actual.md5 != expected.md5 {
            mismatches.append("the MD5 of the object differs")
        }
        if actual.head != expected.headMD5 {
            mismatches.append("the MD5 of the first 256 KiB differs")
        }
        if slices.count != expected.sliceMD5s.count {
            mismatches.append(
                "\(slices.count) slices of \(sliceSize) bytes received, \(expected.sliceMD5s.count) announced")
        } else if let index = slices.indices.first(where: { slices[$0] != expected.sliceMD5s[$0] }) {
            mismatches.append("the MD5 of slice \(index + 1) differs")
        }
        return mismatches
    }
}
