import CShims
import Crypto

/// Seals payload chunks with the system OpenSSL's ChaCha20-Poly1305, keyed once, writing straight into the
/// output buffer. swift-crypto's `ChaChaPoly.seal` allocates and copies twice per 64 KiB chunk, which made
/// encryption three times slower than stock `age`; the result is the same bytes (the CCTV vectors and stock
/// `age` check it).
final class ChaChaSealer: @unchecked Sendable {
    private let context: OpaquePointer

    init(key: SymmetricKey) throws {
        let context = key.withUnsafeBytes { archiver_chacha_sealer_new($0.bindMemory(to: UInt8.self).baseAddress) }
        guard let context else { throw AgeError(.payload, "the system's ChaCha20-Poly1305 is unavailable") }
        self.context = context
    }

    deinit { archiver_chacha_sealer_free(context) }

    /// Seals `plaintext` into `output` (plaintext.count + 16 bytes: ciphertext then tag). False on failure.
    func seal(nonce: UnsafeRawBufferPointer, _ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
        -> Bool
    {
        precondition(nonce.count >= 12 && output.count >= plaintext.count + 16)
        var empty: UInt8 = 0
        return withUnsafePointer(to: &empty) { emptyPointer in
            archiver_chacha_seal(
                context, nonce.bindMemory(to: UInt8.self).baseAddress,
                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer, plaintext.count,
                output.bindMemory(to: UInt8.self).baseAddress) == 1
        }
    }
}
