import Crypto
import CryptoExtras
import Foundation

/// AES-CBC decryption of one message fed in pieces: each call decrypts whole blocks and carries the last ciphertext
/// block over as the next call's IV, so a file of any size decrypts a chunk at a time. Padding is the caller's
/// business (Fernet's PKCS #7 and AES Crypt's size byte differ), hence `noPadding`.
struct CBCChain {
    static let blockSize = 16

    private let key: SymmetricKey
    private var iv: [UInt8]

    /// - Parameters:
    ///   - key: a 128- or 256-bit AES key.
    ///   - iv: the message's 16-byte IV.
    init(key: SymmetricKey, iv: some Collection<UInt8>) {
        self.key = key
        self.iv = Array(iv)
    }

    /// Decrypts `blocks` (a whole number of blocks, possibly none) and hands the plaintext to `body`.
    /// - Throws: what `body` throws; a `CryptoKitError` only for a wrong key size, which callers rule out.
    mutating func decrypt(_ blocks: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !blocks.isEmpty else { return }
        precondition(blocks.count % Self.blockSize == 0, "CBC input must be whole blocks")
        let plain = try AES._CBC.decrypt(blocks, using: key, iv: AES._CBC.IV(ivBytes: iv), noPadding: true)
        iv.withUnsafeMutableBytes {
            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: blocks.suffix(Self.blockSize)))
        }
        try plain.withUnsafeBytes(body)
    }
}
