import Crypto

/// The STREAM construction of the age payload: 64 KiB chunks, each sealed with ChaCha20-Poly1305 under a
/// nonce made of an 11-byte big-endian chunk counter and a final-chunk flag.
enum Stream {
    /// Plaintext bytes per chunk; only the final chunk may be shorter.
    static let chunkSize = Age.chunkSize
    static let tagSize = 16
    static let nonceSize = 12
    /// The size of the random nonce between the header and the first chunk, the salt of the payload key.
    static let payloadNonceSize = 16
    static let fullChunkCiphertextSize = chunkSize + tagSize

    /// Writes the 12-byte nonce of a chunk into `buffer`, which must hold at least 12 bytes.
    ///
    /// The counter is 88 bits in the format; a UInt64 fills its low 64 bits, which no real stream exhausts.
    @inline(__always)
    static func writeNonce(counter: UInt64, isFinal: Bool, into buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: 0, toByteOffset: 0, as: UInt16.self)
        buffer.storeBytes(of: 0, toByteOffset: 2, as: UInt8.self)
        buffer.storeBytes(of: counter.bigEndian, toByteOffset: 3, as: UInt64.self)
        buffer.storeBytes(of: isFinal ? 1 : 0, toByteOffset: 11, as: UInt8.self)
    }

    /// The nonce of a chunk as bytes.
    static func nonceBytes(counter: UInt64, isFinal: Bool) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: nonceSize)
        bytes.withUnsafeMutableBytes { writeNonce(counter: counter, isFinal: isFinal, into: $0) }
        return bytes
    }

    /// The nonce of a chunk, built on the stack (a 12-byte `Data` is stored inline, so this does not allocate).
    @inline(__always)
    static func nonce(counter: UInt64, isFinal: Bool) -> ChaChaPoly.Nonce {
        var raw: (UInt64, UInt32) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { buffer in
            writeNonce(counter: counter, isFinal: isFinal, into: buffer)
            return try! ChaChaPoly.Nonce(data: UnsafeRawBufferPointer(rebasing: buffer[0..<nonceSize]))
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends raw bytes with a single copy, instead of iterating them one by one.
    @inline(__always)
    mutating func appendRaw(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }
}
