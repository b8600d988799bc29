import Age
import Foundation

extension FuzzEntries {
    /// The identity of the age CCTV vectors (a published test key), so those vectors seed the stream target with
    /// files that get past the header MAC.
    static let identity: X25519Identity = {
        do {
            return try X25519Identity("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0")
        } catch {
            preconditionFailure("the fixed fuzz identity does not parse: \(error)")
        }
    }()

    /// The age header parser, and the identity file parser on the same bytes.
    ///
    /// Invariant: a header that parses serializes back to exactly the bytes it came from. The MAC covers the header
    /// as written, so any latitude in the parser would be latitude to alter a header undetected.
    /// - Parameter input: arbitrary bytes.
    public static func ageHeader(_ input: UnsafeRawBufferPointer) {
        let bytes = Array(input)
        if let header = try? AgeHeader.parse(bytes) {
            let written = try? header.serialized()
            precondition(written == bytes, "a header parsed but does not serialize to the bytes it came from")
        }
        _ = try? Age.parseIdentityFile(String(decoding: bytes, as: UTF8.self))
    }

    /// The push-based age decryptor with a fixed X25519 identity.
    ///
    /// Invariants: the input fed whole and fed in small pieces releases the same plaintext and ends in the same kind
    /// of error (or none); no more plaintext is released than ciphertext came in; after an error, every call fails.
    /// - Parameter input: arbitrary bytes, standing for a whole age file.
    public static func ageStream(_ input: UnsafeRawBufferPointer) {
        let whole = decrypt(input, pieceSize: max(1, input.count))
        let pieces = decrypt(input, pieceSize: pieceSize(for: input))
        precondition(whole.plaintext == pieces.plaintext, "the plaintext depends on how the input was split")
        precondition(whole.error == pieces.error, "the outcome depends on how the input was split")
        precondition(whole.plaintext.count <= input.count, "more plaintext came out than ciphertext went in")
    }

    private static func decrypt(_ input: UnsafeRawBufferPointer, pieceSize: Int)
        -> (plaintext: Data, error: AgeError.Kind?)
    {
        var decryptor = AgeDecryptor(identities: [identity])
        // Data, not [UInt8]: appends and comparisons are memcpy and memcmp even in the unoptimized fuzz build.
        var plaintext = Data()
        let append = { (bytes: UnsafeRawBufferPointer) in plaintext.append(bytes.assumingMemoryBound(to: UInt8.self)) }
        do {
            try inPieces(input, of: pieceSize) { try decryptor.feed($0, output: append) }
            try decryptor.finish(output: append)
            return (plaintext, nil)
        } catch let error as AgeError {
            // A failed decryptor stays failed: the stream position means nothing any more.
            let again = Result { try decryptor.finish(output: append) }
            guard case .failure(let repeated) = again, (repeated as? AgeError)?.kind == error.kind else {
                preconditionFailure("the decryptor went on after \(error)")
            }
            return (plaintext, error.kind)
        } catch {
            preconditionFailure("the decryptor threw \(type(of: error)), not an AgeError: \(error)")
        }
    }
}
