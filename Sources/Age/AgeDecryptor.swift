import Crypto
import Foundation

/// Decrypts an age file pushed to it in pieces of any size.
///
/// Memory is bounded: at most the header (refused beyond 64 KiB) plus one chunk is held. Plaintext is
/// released only after its chunk authenticated; a full-size chunk is released as non-final only once a
/// byte after it has arrived, since only then is it known not to be the last chunk. Once `feed` or
/// `finish` has thrown, every later call throws the same error: the stream position is no longer meaningful.
public struct AgeDecryptor: Sendable {
    private enum Phase {
        case header, nonce, payload, finished
    }

    /// The largest header accepted, so a hostile file cannot make the decryptor buffer without limit.
    public static let maxHeaderSize = 65536

    private let identities: [any AgeIdentity]
    private var phase = Phase.header
    private var failure: (any Error)?
    private var headerBytes: [UInt8] = []
    /// Where the line being received starts in `headerBytes`.
    private var lineStart = 0
    private var header: AgeHeader?
    /// The unwrapped file key, held only between the header and the payload nonce.
    private var fileKeyStorage: FileKey?
    private var payloadNonce: [UInt8] = []
    private var opener: ChaChaOpener?
    /// The nonce slot (12 bytes, so a chunk is one contiguous sealed box) followed by received ciphertext.
    private var chunk: [UInt8] = []
    private var counter: UInt64 = 0

    /// A full chunk plus the one byte that proves it is not the last.
    private static let chunkBufferSize = Stream.nonceSize + Stream.fullChunkCiphertextSize + 1

    /// Creates a decryptor.
    ///
    /// - Parameter identities: Tried in order against the header stanzas; the first that unwraps a file key wins.
    public init(identities: [any AgeIdentity]) {
        self.identities = identities
    }

    /// The parsed header stanzas once the header has been read (nil before), even if no identity matched.
    public var stanzas: [Stanza]? {
        header?.stanzas
    }

    /// Feeds the next ciphertext bytes; authenticated plaintext goes to `output`.
    ///
    /// - Parameters:
    ///   - bytes: The next bytes of the file, split anywhere (even one byte at a time).
    ///   - output: Called with each authenticated chunk of plaintext; the buffer is valid only during the call.
    /// - Throws: ``AgeError`` for a malformed header (`.header`, `.unsupportedVersion`), no matching identity
    ///   (`.noMatch`), an altered header (`.hmacMismatch`), a chunk that fails to authenticate or data after
    ///   the final chunk (`.payload`); whatever `output` or an identity throws.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        do {
            try consume(bytes, output: output)
        } catch {
            failure = error
            throw error
        }
    }

    /// Ends the input: authenticates and releases the final chunk.
    ///
    /// - Parameter output: Called with the final chunk's plaintext if it is not empty.
    /// - Throws: ``AgeError`` of kind `.header` when the file ends inside the header or the payload nonce,
    ///   `.truncated` when it ends without a final chunk, `.payload` when the last chunk does not authenticate
    ///   or is an empty chunk after others; whatever `output` throws.
    public mutating func finish(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failure { throw failure }
        do {
            try end(output: output)
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: - Input

    private mutating func consume(_ bytes: UnsafeRawBufferPointer, output: (UnsafeRawBufferPointer) throws -> Void)
        throws
    {
        var input = bytes
        while !input.isEmpty {
            let taken: Int
            switch phase {
            case .header:
                taken = try consumeHeader(input)
            case .nonce:
                taken = min(Stream.payloadNonceSize - payloadNonce.count, input.count)
                payloadNonce.appendRaw(UnsafeRawBufferPointer(rebasing: input[..<taken]))
                if payloadNonce.count == Stream.payloadNonceSize { try startPayload() }
            case .payload:
                taken = min(Self.chunkBufferSize - chunk.count, input.count)
                chunk.appendRaw(UnsafeRawBufferPointer(rebasing: input[..<taken]))
                if chunk.count == Self.chunkBufferSize { try releaseFullChunk(output: output) }
            case .finished:
                throw AgeError(.payload, "data was fed after finish()")
            }
            input = UnsafeRawBufferPointer(rebasing: input[taken...])
        }
    }

    /// Takes header bytes up to and including the next newline; returns how many it took.
    private mutating func consumeHeader(_ input: UnsafeRawBufferPointer) throws -> Int {
        let newline = input.firstIndex(of: UInt8(ascii: "\n"))
        let taken = newline.map { $0 + 1 } ?? input.count
        guard headerBytes.count + taken <= Self.maxHeaderSize else {
            throw AgeError(.header, "the header is larger than \(Self.maxHeaderSize) bytes")
        }
        headerBytes.appendRaw(UnsafeRawBufferPointer(rebasing: input[..<taken]))
        if newline != nil {
            let line = headerBytes[lineStart..<(headerBytes.count - 1)]
            if lineStart == 0 {
                try AgeHeader.checkVersionLine(line)
            } else if line.starts(with: "---".utf8) {
                try completeHeader(macLineStart: lineStart)
                phase = .nonce
            }
            lineStart = headerBytes.count
        } else if lineStart == 0 {
            // Refuse something that is plainly not age at once, rather than after buffering 64 KiB of it.
            let count = min(headerBytes.count, AgeHeader.versionPrefix.count)
            guard headerBytes[..<count].elementsEqual(AgeHeader.versionPrefix[..<count]) else {
                throw AgeError(.header, "not an age file: it does not start with \"age-encryption.org/\"")
            }
        }
        return taken
    }

    /// Parses the complete header, finds the file key and checks the MAC.
    private mutating func completeHeader(macLineStart: Int) throws {
        let parsed = try AgeHeader.parse(headerBytes)
        header = parsed
        let stanzas = parsed.stanzas
        if stanzas.count > 1 && stanzas.contains(where: { $0.type == ScryptRecipient.stanzaType }) {
            throw AgeError(.header, "an scrypt stanza must be the only stanza in the header")
        }
        var found: FileKey?
        for identity in identities {
            if let fileKey = try identity.unwrap(stanzas: stanzas) {
                found = fileKey
                break
            }
        }
        guard let fileKey = found else {
            let types = stanzas.map(\.type).joined(separator: ", ")
            throw AgeError(
                .noMatch,
                "none of the \(identities.count) identities matches any of the \(stanzas.count) stanzas (\(types))"
            )
        }
        let covered = Array(headerBytes[..<(macLineStart + 3)])
        guard Primitives.verifyHeaderMAC(parsed.mac, fileKey: fileKey, covered: covered) else {
            throw AgeError(.hmacMismatch, "the header MAC does not match: the header was altered")
        }
        self.fileKeyStorage = fileKey
        headerBytes = []
    }

    private mutating func startPayload() throws {
        guard let fileKey = fileKeyStorage else {
            throw AgeError(.header, "internal error: no file key at the payload")
        }
        opener = try ChaChaOpener(
            key: Primitives.payloadKey(fileKey, nonce: payloadNonce), chunkSize: Stream.fullChunkCiphertextSize)
        fileKeyStorage = nil
        chunk.reserveCapacity(Self.chunkBufferSize)
        chunk.append(contentsOf: repeatElement(0, count: Stream.nonceSize))
        phase = .payload
    }

    // MARK: - Chunks

    /// Opens the buffered chunk of `length` ciphertext bytes, or returns nil when it does not authenticate.
    private mutating func openChunk(length: Int, isFinal: Bool) -> UnsafeRawBufferPointer? {
        guard let opener else { return nil }
        let counter = counter
        return chunk.withUnsafeMutableBytes { buffer -> UnsafeRawBufferPointer? in
            Stream.writeNonce(counter: counter, isFinal: isFinal, into: buffer)
            return opener.open(
                nonce: UnsafeRawBufferPointer(rebasing: buffer[..<Stream.nonceSize]),
                sealed: UnsafeRawBufferPointer(rebasing: buffer[Stream.nonceSize..<(Stream.nonceSize + length)]))
        }
    }

    /// Opens a full chunk known to be followed by at least one byte, so it must be a non-final chunk.
    private mutating func releaseFullChunk(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let plaintext = openChunk(length: Stream.fullChunkCiphertextSize, isFinal: false) else {
            if let plaintext = openChunk(length: Stream.fullChunkCiphertextSize, isFinal: true) {
                // An authentic final chunk with data after it: release it as the reference implementation
                // does (it is authentic), but the stream as a whole is refused.
                let chunkIndex = counter
                phase = .finished
                try output(plaintext)
                throw AgeError(.payload, "data follows the final chunk (chunk \(chunkIndex))")
            }
            throw AgeError(.payload, "payload chunk \(counter) failed to authenticate")
        }
        guard counter < UInt64.max else {
            throw AgeError(.payload, "the stream has too many chunks")
        }
        counter += 1
        // Keep the byte after the chunk as the start of the next one.
        chunk[Stream.nonceSize] = chunk[Self.chunkBufferSize - 1]
        chunk.removeLast(Self.chunkBufferSize - Stream.nonceSize - 1)
        try output(plaintext)
    }

    private mutating func end(output: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch phase {
        case .header:
            throw AgeError(.header, headerBytes.isEmpty ? "the file is empty" : "the file ends inside the header")
        case .nonce:
            throw AgeError(.header, "the file ends inside the 16-byte payload nonce")
        case .finished:
            throw AgeError(.payload, "finish() was called twice")
        case .payload:
            break
        }
        let length = chunk.count - Stream.nonceSize
        if length == 0 {
            throw AgeError(.truncated, "the payload ends without a final chunk (after \(counter) chunks)")
        }
        if length < Stream.tagSize {
            throw AgeError(.truncated, "the payload ends inside a chunk's 16-byte tag (chunk \(counter))")
        }
        if length == Stream.tagSize && counter > 0 {
            throw AgeError(.payload, "the final chunk is empty, which is allowed only when it is the only chunk")
        }
        guard let plaintext = openChunk(length: length, isFinal: true) else {
            if length == Stream.fullChunkCiphertextSize, let plaintext = openChunk(length: length, isFinal: false) {
                // An authentic non-final chunk is released, as it would have been had more data followed.
                let chunkCount = counter + 1
                phase = .finished
                try output(plaintext)
                throw AgeError(.truncated, "the payload ends without a final chunk (after \(chunkCount) chunks)")
            }
            throw AgeError(.payload, "the final payload chunk (chunk \(counter)) failed to authenticate")
        }
        phase = .finished
        chunk = []
        if !plaintext.isEmpty {
            try output(plaintext)
        }
    }
}
