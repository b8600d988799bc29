import CShims
import Crypto

/// Opens payload chunks with the system OpenSSL's ChaCha20-Poly1305, keyed once, into one reused buffer: the
/// counterpart of `ChaChaSealer`. swift-crypto's `ChaChaPoly.open` copied each 64 KiB chunk into a sealed box and
/// allocated its plaintext, which made a restore slower than `rclone` and `age -d`.
final class ChaChaOpener: @unchecked Sendable {
    private let context: OpaquePointer
    private let buffer: UnsafeMutableRawBufferPointer

    init(key: SymmetricKey, chunkSize: Int) throws {
        let context = key.withUnsafeBytes { archiver_chacha_opener_new($0.bindMemory(to: UInt8.self).baseAddress) }
        guard let context else { throw AgeError(.payload, "the system's ChaCha20-Poly1305 is unavailable") }
        self.context = context
        buffer = .allocate(byteCount: max(1, chunkSize), alignment: 16)
    }

    deinit {
        archiver_chacha_sealer_free(context)
        buffer.deallocate()
    }

    /// Authenticates and decrypts `sealed` (ciphertext then its 16-byte tag) under `nonce`.
    /// - Returns: the plaintext, valid until the next call; nil when the chunk does not authenticate.
    func open(nonce: UnsafeRawBufferPointer, sealed: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        precondition(nonce.count >= 12)
        guard sealed.count >= 16, sealed.count - 16 <= buffer.count else { return nil }
        let length = sealed.count - 16
        let ok = archiver_chacha_open(
            context, nonce.bindMemory(to: UInt8.self).baseAddress,
            sealed.bindMemory(to: UInt8.self).baseAddress, length,
            sealed.bindMemory(to: UInt8.self).baseAddress! + length,
            buffer.bindMemory(to: UInt8.self).baseAddress)
        return ok == 1 ? UnsafeRawBufferPointer(rebasing: buffer[0..<length]) : nil
    }
}
