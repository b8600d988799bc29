import Age
import Codecs
import Crypto
import Foundation

extension ObjectPipeline {
    /// Decodes one stored object into plaintext.
    ///
    /// A large object runs in three stages on their own threads (decrypt, decompress, hash and write), so a
    /// restore uses both cores; an object whose plaintext is known to fit in one block is decoded on the calling
    /// thread, where starting threads would cost more than the work.
    /// - Parameters:
    ///   - source: the stored bytes.
    ///   - sink: receives plaintext; nothing is released before the chunk it came from authenticated.
    ///   - options: identities, payload form, expected size and hash.
    /// - Returns: sizes and the plaintext SHA-256.
    /// - Throws: `ArchiverError` — `.key` when no identity matches, `.integrity` for tampering, truncation,
    ///   a corrupt gzip or zstd stream, a size/hash mismatch or more plaintext than `maxSize` — or whatever `sink`
    ///   throws.
    public static func decode(
        from source: any ByteSource, to sink: any ByteSink, options: DecodeOptions
    ) throws -> DecodedObject {
        var check = PlaintextCheck(options: options)
        let storedCount = Counter()
        do {
            if let expected = options.expectedSize, expected <= Int64(options.blockSize) {
                try decodeInline(from: source, into: &check, sink: sink, options: options, storedCount: storedCount)
            } else {
                try decodeStaged(from: source, into: &check, sink: sink, options: options, storedCount: storedCount)
            }
        } catch {
            throw userFacing(error)
        }
        return try check.finish(storedSize: storedCount.value)
    }

    /// One thread: decrypt into the decompressor into the check and the sink.
    private static func decodeInline(
        from source: any ByteSource, into check: inout PlaintextCheck, sink: any ByteSink, options: DecodeOptions,
        storedCount: Counter
    ) throws {
        // Buffers sized to the object: a restore of many small files must not zero a quarter MiB for each.
        let outputSize = Int(max(4096, min(options.expectedSize ?? 0, 256 * 1024)))
        let decompressor = makeDecompressor(options.compression, limit: check.limit, outputBufferSize: outputSize)
        func emit(_ bytes: UnsafeRawBufferPointer) throws {
            try check.take(bytes)
            try sink.write(bytes)
        }
        try decrypt(source, identities: options.identities, storedCount: storedCount, readSize: 64 * 1024) { bytes in
            if let decompressor { try decompressor.feed(bytes, output: emit) } else { try emit(bytes) }
        }
        try decompressor?.finish()
    }

    /// Three threads joined by two coordinators: decrypt → decompress → (this thread) check and write. Without
    /// compression the middle stage is skipped.
    private static func decodeStaged(
        from source: any ByteSource, into check: inout PlaintextCheck, sink: any ByteSink, options: DecodeOptions,
        storedCount: Counter
    ) throws {
        let blockSize = options.blockSize
        let payload = StageCoordinator<Block, Block>(tickets: max(2, options.inFlight))
        let payloadPool = BufferPool(capacity: blockSize + Age.chunkSize)
        let group = DispatchGroup()
        let identities = options.identities

        // Authenticates and decrypts, passing the payload on in blocks.
        startThread(named: "archiver.decrypt", group: group) { [source] in
            do {
                var handoff = BlockHandoff(to: payload, pool: payloadPool, blockSize: blockSize)
                try decrypt(source, identities: identities, storedCount: storedCount, readSize: 256 * 1024) {
                    try handoff.append($0)
                }
                try handoff.end()
            } catch is CancellationError {
                return
            } catch {
                payload.fail(error)
            }
        }

        // Decompression gets a thread of its own, so inflating overlaps hashing and writing: on a compressible
        // file inflate alone is most of the CPU, and the hash and the write would otherwise wait on it.
        let plaintext: StageCoordinator<Block, Block>
        let plaintextPool: BufferPool
        if options.compression != .none {
            plaintext = StageCoordinator<Block, Block>(tickets: max(2, options.inFlight))
            plaintextPool = BufferPool(capacity: blockSize)
            let compression = options.compression
            let limit = check.limit
            startThread(named: "archiver.inflate", group: group) {
                do {
                    // The decompressor stops at `limit` itself, before a bomb's output exists.
                    let decompressor = makeDecompressor(compression, limit: limit, outputBufferSize: 256 * 1024)!
                    var handoff = BlockHandoff(to: plaintext, pool: plaintextPool, blockSize: blockSize)
                    try payload.consumeInOrder { block in
                        try block.bytes.withUnsafeBytes { try decompressor.feed($0) { try handoff.append($0) } }
                        payloadPool.give(block.bytes)
                    }
                    try decompressor.finish()
                    try handoff.end()
                } catch is CancellationError {
                    return
                } catch {
                    payload.fail(error)
                    plaintext.fail(error)
                }
            }
        } else {
            plaintext = payload
            plaintextPool = payloadPool
        }

        do {
            try plaintext.consumeInOrder { block in
                try block.bytes.withUnsafeBytes { bytes in
                    try check.take(bytes)
                    try sink.write(bytes)
                }
                plaintextPool.give(block.bytes)
            }
        } catch {
            payload.fail(error)
            plaintext.fail(error)
            group.wait()
            throw error
        }
        group.wait()
        if let failure = payload.firstFailure ?? plaintext.firstFailure { throw failure }
    }

    /// Reads `source` to its end, authenticating and decrypting when `identities` are given, and hands the
    /// payload to `output` in order.
    private static func decrypt(
        _ source: any ByteSource, identities: [any AgeIdentity], storedCount: Counter, readSize: Int,
        output: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var decryptor = identities.isEmpty ? nil : AgeDecryptor(identities: identities)
        var input = [UInt8].untouched(count: readSize)
        while true {
            let n = try input.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            storedCount.add(n)
            try input.withUnsafeBytes { raw in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                if decryptor != nil { try decryptor!.feed(bytes, output: output) } else { try output(bytes) }
            }
        }
        try decryptor?.finish(output: output)
    }

    /// The decompressor for a payload form, or nil for a plaintext payload.
    private static func makeDecompressor(
        _ compression: PayloadCompression, limit: Int64?, outputBufferSize: Int
    ) -> (any StreamDecompressor)? {
        switch compression {
        case .none: nil
        case .gzip: Inflater(format: .gzip, maxOutput: limit, outputBufferSize: outputBufferSize)
        case .zstd: ZstdDecompressor(maxOutput: limit, outputBufferSize: outputBufferSize)
        }
    }
}

/// The plaintext's running size and hash, held to the expected size, the limit and the expected hash.
struct PlaintextCheck {
    let expected: Int64?
    let expectedSHA256: [UInt8]?
    /// The most plaintext allowed: the expected size or the caller's maximum, whichever is smaller.
    let limit: Int64?
    private var sha = SHA256()
    private var written: Int64 = 0

    init(options: DecodeOptions) {
        expected = options.expectedSize
        expectedSHA256 = options.expectedSHA256
        limit = [options.expectedSize, options.maxSize].compactMap { $0 }.min()
    }

    /// Counts and hashes the next plaintext; throws before it is released when it goes past the limit.
    mutating func take(_ bytes: UnsafeRawBufferPointer) throws {
        if let limit, written + Int64(bytes.count) > limit {
            throw ArchiverError(
                .integrity,
                "the object holds more than the \(ObjectPipeline.limitName(expected, limit)) bytes of plaintext")
        }
        written += Int64(bytes.count)
        sha.update(bufferPointer: bytes)
    }

    /// Checks the size and the hash at the end.
    func finish(storedSize: Int64) throws -> DecodedObject {
        let digest = Array(sha.finalize())
        if let expected, written != expected {
            throw ArchiverError(.integrity, "the object holds \(written) bytes of plaintext, \(expected) were expected")
        }
        if let expectedSHA256, expectedSHA256 != digest {
            throw ArchiverError(.integrity, "the plaintext SHA-256 does not match the recorded one")
        }
        return DecodedObject(plaintextSize: written, plaintextSHA256: digest, storedSize: storedSize)
    }
}

/// Gathers bytes into blocks of `blockSize` and hands each to the next stage, waiting for a ticket.
private struct BlockHandoff {
    let coordinator: StageCoordinator<Block, Block>
    let pool: BufferPool
    let blockSize: Int
    private var pending: [UInt8]
    private var sequence = 0

    init(to coordinator: StageCoordinator<Block, Block>, pool: BufferPool, blockSize: Int) {
        self.coordinator = coordinator
        self.pool = pool
        self.blockSize = blockSize
        self.pending = pool.take()
    }

    /// Appends bytes, handing on every full block. Throws `CancellationError` once the pipeline failed.
    mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let take = min(rest.count, blockSize - pending.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if pending.count == blockSize { try handOn() }
        }
    }

    /// Hands on the last partial block and marks the end of the stream.
    mutating func end() throws {
        if !pending.isEmpty { try handOn() }
        coordinator.endInput(blockCount: sequence)
    }

    private mutating func handOn() throws {
        guard coordinator.acquireTicket() else { throw CancellationError() }
        coordinator.deliver(sequence, Block(bytes: pending))
        sequence += 1
        pending = pool.take()
    }
}
