import ArchiverKit
import Crypto

/// Checks the bytes of an upload against the digests announced before it, as Baidu's `create` does: the size,
/// the MD5 of the whole, the MD5 of the first 256 KiB and the MD5 of every slice.
struct UploadDigestCheck {
    /// Bytes covered by the head MD5.
    static let headSize = 256 * 1024

    /// The digests announced.
    let expected: UploadDigests
    /// The slice size the slice MD5s were computed with.
    let sliceSize: Int

    private var count: Int64 = 0
    private var whole = Insecure.MD5()
    private var head = Insecure.MD5()
    private var slice = Insecure.MD5()
    private var sliceFill = 0
    private var slices: [[UInt8]] = []

    /// Starts a check.
    init(expected: UploadDigests, sliceSize: Int) {
        precondition(sliceSize > 0)
        self.expected = expected
        self.sliceSize = sliceSize
    }

    /// Hashes the next bytes of the upload.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        whole.update(bufferPointer: bytes)
        if count < Int64(Self.headSize) {
            let taken = min(bytes.count, Self.headSize - Int(count))
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

    /// Ends the upload.
    /// - Parameter size: the bytes received.
    /// - Returns: what disagrees, phrased for a message; empty when everything matches.
    mutating func finish(size: Int64) -> [String] {
        if sliceFill > 0 {
            // The last, partial slice counts (an empty object has no slices, as the core's hasher says).
            slices.append(Array(slice.finalize()))
            sliceFill = 0
        }
        var mismatches: [String] = []
        if size != expected.size {
            mismatches.append("\(size) bytes received, \(expected.size) announced")
        }
        if Array(whole.finalize()) != expected.md5 {
            mismatches.append("the MD5 of the object differs")
        }
        if Array(head.finalize()) != expected.headMD5 {
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
