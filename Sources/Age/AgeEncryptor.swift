import Crypto
import Foundation

/// Encrypts an age file as a stream: the header first, then the payload chunk by chunk.
///
/// Memory use is one chunk, whatever the file size. The caller cuts the plaintext into 64 KiB chunks and
/// must know which chunk is the last, so a plaintext that is an exact multiple of 64 KiB ends with a full
/// chunk sealed with `isFinal: true` (an empty final chunk is only allowed for an empty file).
public struct AgeEncryptor: Sendable {
    /// Everything that precedes the first chunk: the header text ending with the MAC line, then the payload nonce.
    public let header: [UInt8]
    private let payloadKey: SymmetricKey
    private let sealer: ChaChaSealer
    private var counter: UInt64 = 0
    /// Whether the final chunk has been sealed.
    public private(set) var isFinished = false

    /// Builds the header for the recipients.
    ///
    /// - Parameters:
    ///   - recipients: Who can decrypt; at least one, and an ``ScryptRecipient`` only alone.
    ///   - fileKey: The file key, for deterministic output; nil draws a fresh one.
    ///   - payloadNonce: The 16-byte payload nonce, for deterministic output; nil draws a fresh one.
    ///   - ephemeralSecrets: One 32-byte value per recipient, passed to its
    ///     ``AgeRecipient/wrap(fileKey:ephemeralSecret:)``, for deterministic output; nil draws fresh randomness.
    /// - Throws: ``AgeError`` of kind `.invalidKey` for no recipients, an scrypt recipient among others, or
    ///   a nonce or secrets of the wrong size or count; whatever a recipient's `wrap` throws.
    public init(
        recipients: [any AgeRecipient],
        fileKey: FileKey? = nil,
        payloadNonce: [UInt8]? = nil,
        ephemeralSecrets: [[UInt8]]? = nil
    ) throws {
        guard !recipients.isEmpty else {
            throw AgeError(.invalidKey, "an age file needs at least one recipient")
        }
        if let ephemeralSecrets, ephemeralSecrets.count != recipients.count {
            throw AgeError(
                .invalidKey, "\(ephemeralSecrets.count) ephemeral secrets given for \(recipients.count) recipients"
            )
        }
        if let payloadNonce, payloadNonce.count != Stream.payloadNonceSize {
            throw AgeError(
                .invalidKey, "the payload nonce is \(Stream.payloadNonceSize) bytes, not \(payloadNonce.count)")
        }
        let fileKey = fileKey ?? .random()
        var stanzas: [Stanza] = []
        for (index, recipient) in recipients.enumerated() {
            stanzas.append(try recipient.wrap(fileKey: fileKey, ephemeralSecret: ephemeralSecrets?[index]))
        }
        if stanzas.count > 1 && stanzas.contains(where: { $0.type == ScryptRecipient.stanzaType }) {
            throw AgeError(.invalidKey, "a passphrase (scrypt) recipient must be the only recipient of a file")
        }
        let covered = try AgeHeader.bytesCoveredByMAC(stanzas: stanzas)
        let mac = Primitives.headerMAC(fileKey: fileKey, covered: covered)
        let nonce = payloadNonce ?? secureRandomBytes(Stream.payloadNonceSize)
        header = try AgeHeader(stanzas: stanzas, mac: mac).serialized() + nonce
        payloadKey = Primitives.payloadKey(fileKey, nonce: nonce)
        sealer = try ChaChaSealer(key: payloadKey)
    }

    /// Seals the next chunk and appends its ciphertext and tag to `output`.
    ///
    /// - Parameters:
    ///   - plaintext: Exactly 64 KiB for a non-final chunk; up to 64 KiB for the final chunk, which may be
    ///     empty only when it is the only chunk.
    ///   - isFinal: Whether this is the last chunk of the file.
    ///   - output: Receives the chunk's ciphertext (plaintext size + 16 bytes).
    /// - Throws: ``AgeError`` of kind `.payload` for a chunk of the wrong size or a call after the final chunk.
    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, isFinal: Bool, appendingTo output: inout [UInt8])
        throws
    {
        guard !isFinished else {
            throw AgeError(.payload, "seal called after the final chunk")
        }
        if isFinal {
            guard plaintext.count <= Stream.chunkSize else {
                throw AgeError(.payload, "a chunk holds at most \(Stream.chunkSize) bytes, not \(plaintext.count)")
            }
            guard !plaintext.isEmpty || counter == 0 else {
                throw AgeError(.payload, "the final chunk may be empty only when it is the only chunk")
            }
        } else {
            guard plaintext.count == Stream.chunkSize else {
                throw AgeError(
                    .payload, "a non-final chunk holds exactly \(Stream.chunkSize) bytes, not \(plaintext.count)"
                )
            }
            guard counter < UInt64.max else {
                throw AgeError(.payload, "the stream has too many chunks")
            }
        }
        var nonce: (UInt64, UInt32) = (0, 0)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: plaintext.count + Stream.tagSize))
        let sealed = withUnsafeMutableBytes(of: &nonce) { nonceBytes in
            Stream.writeNonce(counter: counter, isFinal: isFinal, into: nonceBytes)
            return output.withUnsafeMutableBytes { out in
                sealer.seal(
                    nonce: UnsafeRawBufferPointer(nonceBytes), plaintext,
                    into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
            }
        }
        guard sealed else {
            output.removeSubrange(start...)
            throw AgeError(.payload, "the system's ChaCha20-Poly1305 failed to seal chunk \(counter)")
        }
        counter &+= 1
        isFinished = isFinal
    }

    /// Seals the next chunk into a new array.
    ///
    /// - Parameters:
    ///   - plaintext: The chunk, as for ``seal(_:isFinal:appendingTo:)``.
    ///   - isFinal: Whether this is the last chunk of the file.
    /// - Returns: The chunk's ciphertext and tag.
    /// - Throws: As ``seal(_:isFinal:appendingTo:)``.
    public mutating func seal(_ plaintext: [UInt8], isFinal: Bool) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(plaintext.count + Stream.tagSize)
        try plaintext.withUnsafeBytes { try seal($0, isFinal: isFinal, appendingTo: &output) }
        return output
    }
}
