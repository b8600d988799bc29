public import Age
import Codecs
import Crypto
import Foundation

/// How to turn a file into a stored object.
public struct EncodeOptions: Sendable {
    /// Age recipients; empty stores the payload unencrypted (`encryption: off`).
    public var recipients: [any AgeRecipient]
    /// What compression to use (`auto` decides per file).
    public var compression: CompressionMode
    /// The file's name, for `auto`'s list of already-compressed types.
    public var fileName: String?
    /// Which digests of the stored bytes to compute.
    public var digests: StoredDigests
    /// Slice size for `.sliceMD5s` (Baidu: 4, 16 or 32 MiB).
    public var sliceSize: Int
    /// Deterministic mode: derive all randomness from this secret.
    public var secret: ObjectSecret?
    /// When regenerating an object, the format id recorded at the first pass; a different pipeline is refused.
    public var expectedFormatID: String?
    /// Plaintext block size; each compressed block is one gzip member or zstd frame. Part of the format id.
    public var blockSize: Int
    /// Compression threads.
    public var workers: Int
    /// Blocks in flight at once; memory is about `inFlight × blockSize × 2`.
    public var inFlight: Int

    /// Options with the defaults: auto compression, stored SHA-256 only, 4 MiB slices, 512 KiB blocks, 2 workers.
    /// - Parameters:
    ///   - recipients: age recipients, or empty for no encryption.
    ///   - compression: the compression mode.
    public init(recipients: [any AgeRecipient], compression: CompressionMode = .auto(level: CompressionMode.defaultAutoLevel)) {
        self.recipients = recipients
        self.compression = compression
        self.fileName = nil
        self.digests = [.sha256]
        self.sliceSize = 4 << 20
        self.secret = nil
        self.expectedFormatID = nil
        self.blockSize = ObjectPipeline.defaultBlockSize
        self.workers = 2
        self.inFlight = 2
    }
}

/// What encoding produced: the facts the catalog and the backend need.
public struct EncodedObject: Sendable, Equatable {
    /// How the payload was compressed.
    public var compression: PayloadCompression
    /// Whether the object is an age file.
    public var encrypted: Bool
    /// Plaintext bytes read.
    public var plaintextSize: Int64
    /// SHA-256 of the plaintext.
    public var plaintextSHA256: [UInt8]
    /// Stored bytes produced.
    public var storedSize: Int64
    /// MD5 of the stored bytes, when asked for.
    public var storedMD5: [UInt8]?
    /// SHA-256 of the stored bytes, when asked for.
    public var storedSHA256: [UInt8]?
    /// MD5 of each stored slice, when asked for.
    public var sliceMD5s: [[UInt8]]
    /// MD5 of the first 256 KiB of stored bytes, when asked for.
    public var headMD5: [UInt8]?
    /// Identifies everything that determines the stored bytes besides keys and plaintext.
    public var formatID: String
}

/// How to turn a stored object back into a file.
public struct DecodeOptions: Sendable {
    /// Identities to try; empty means the object is not encrypted.
    public var identities: [any AgeIdentity]
    /// How the payload is compressed, as recorded by the object's name or catalog entry (never guessed).
    public var compression: PayloadCompression
    /// The plaintext size, when known; more is refused before it is released.
    public var expectedSize: Int64?
    /// The most plaintext to release when the size is not known (`archiver decrypt --max-size`): a bomb guard.
    public var maxSize: Int64?
    /// The plaintext SHA-256, when known; a mismatch fails the decode at the end.
    public var expectedSHA256: [UInt8]?
    /// Size of the blocks handed between the decode stages; an object whose expected plaintext fits in one
    /// block is decoded on the calling thread.
    public var blockSize: Int
    /// Blocks in flight.
    public var inFlight: Int

    /// Creates options.
    /// - Parameters:
    ///   - identities: identities, or empty for unencrypted objects.
    ///   - compression: the payload form.
    public init(identities: [any AgeIdentity], compression: PayloadCompression) {
        self.identities = identities
        self.compression = compression
        self.expectedSize = nil
        self.maxSize = nil
        self.expectedSHA256 = nil
        self.blockSize = 1 << 20
        self.inFlight = 4
    }
}

/// What decoding produced.
public struct DecodedObject: Sendable, Equatable {
    /// Plaintext bytes written.
    public var plaintextSize: Int64
    /// SHA-256 of the plaintext written.
    public var plaintextSHA256: [UInt8]
    /// Stored bytes read.
    public var storedSize: Int64
}

/// The streaming pipeline: file → SHA-256 → gzip or zstd → age → stored digests → sink, and back.
///
/// Memory depends on block size and blocks in flight, never on the file. Encoding runs a reader thread
/// (reading and hashing the plaintext), compression workers, and the calling thread (encrypting, hashing the stored
/// bytes, writing); decoding runs a reader thread (reading and decrypting) and the calling thread (decompressing,
/// hashing, writing). Output never depends on thread timing.
public enum ObjectPipeline {
    /// Plaintext bytes per block, gzip member and zstd frame. Small enough that a few blocks in flight keep peak RSS
    /// near 32 MiB, large enough that framing costs nothing measurable (18 bytes a member, about 12 a frame).
    public static let defaultBlockSize = 256 * 1024
    /// How much of a file `auto` compression deflates to decide.
    public static let probeSize = 1 << 20

    /// Encodes everything `source` yields into one stored object.
    /// - Parameters:
    ///   - source: the plaintext.
    ///   - sink: receives the stored bytes in order.
    ///   - options: recipients, compression, digests, determinism.
    /// - Returns: sizes, digests and the payload form.
    /// - Throws: `ArchiverError` (`.io` reading, `.internalError` for a format mismatch when regenerating), or
    ///   whatever `sink` throws.
    public static func encode(
        from source: any ByteSource, to sink: any ByteSink, options: EncodeOptions
    ) throws -> EncodedObject {
        let blockSize = options.blockSize
        precondition(blockSize > 0 && blockSize % Age.chunkSize == 0, "block size must be a multiple of 64 KiB")
        let probeSize = Self.probeSize
        // `auto` looks at the first MiB; those bytes are then replayed ahead of the rest of the source.
        var head = [UInt8].untouched(count: max(blockSize, probeSize))
        let headCount = try head.withUnsafeMutableBytes { try source.readFull(into: $0) }
        head.removeSubrange(headCount...)
        let payload = try head.withUnsafeBytes {
            try decideCompression(options.compression, fileName: options.fileName, firstBlock: $0)
        }
        let formatID = Self.formatID(payload, blockSize: blockSize)
        let singleBlock = headCount < blockSize
        if let expected = options.expectedFormatID, expected != formatID {
            throw ArchiverError(
                .internalError,
                "cannot regenerate the object: it was made by pipeline format '\(expected)' and this program makes "
                    + "'\(formatID)' (a zlib, libzstd or archiver upgrade); the upload must start over")
        }

        var encryptor: AgeEncryptor?
        if !options.recipients.isEmpty {
            do {
                encryptor = try AgeEncryptor(
                    recipients: options.recipients,
                    fileKey: options.secret?.fileKey,
                    payloadNonce: options.secret?.payloadNonce,
                    ephemeralSecrets: options.secret?.ephemeralSecrets(count: options.recipients.count))
            } catch {
                throw ArchiverError(.key, "cannot encrypt: \(error)", cause: error)
            }
        }
        var emitter = PayloadEmitter(
            encryptor: encryptor, sink: sink,
            hasher: StoredHasher(digests: options.digests, sliceSize: options.sliceSize))
        let reader = PlaintextReader()
        if singleBlock {
            // The whole source is one block, already read: the bytes the threaded path would make (one member or
            // frame, or the block itself), made here without starting threads or buffer pools, which cost more
            // than the work itself for the small files that are most of a photo or document tree.
            try head.withUnsafeBytes { plaintext in
                reader.hash(plaintext)
                if payload.isCompressed {
                    var out: [UInt8] = []
                    out.reserveCapacity(headCount + headCount / 8 + 1024)
                    try makeCompressor(payload, blockSize: blockSize).compressBlock(plaintext, appendingTo: &out)
                    try out.withUnsafeBytes { try emitter.feed($0) }
                } else {
                    try emitter.feed(plaintext)
                }
            }
            try emitter.finish()
            return finished(emitter, reader: reader, payload: payload, formatID: formatID, encrypted: encryptor != nil)
        }
        let source = PrefixedSource(head: consume head, rest: source)

        let workers = payload.isCompressed ? max(1, options.workers) : 0
        let coordinator = StageCoordinator<Block, Block>(tickets: max(2, options.inFlight + workers))
        let inputs = BufferPool(fixedSize: blockSize)
        let outputs = BufferPool(capacity: blockSize + blockSize / 8 + 1024)
        let group = DispatchGroup()

        // Reader: hashes plaintext and passes blocks on, to the workers or straight to the emitter.
        startThread(named: "archiver.read", group: group) { [source] in
            do {
                var sequence = 0
                while true {
                    var buffer = inputs.take()
                    let n = try buffer.withUnsafeMutableBytes { try source.readFull(into: $0) }
                    // An empty source still makes one (empty) block, so a compressed payload gets its member.
                    if n == 0 && sequence > 0 {
                        inputs.give(buffer)
                        break
                    }
                    let block = Block(bytes: buffer, count: n)
                    block.withData { reader.hash($0) }
                    guard coordinator.acquireTicket() else { return }
                    if workers > 0 { coordinator.enqueue(sequence, block) } else { coordinator.deliver(sequence, block) }
                    sequence += 1
                    if n < blockSize { break }
                }
                coordinator.endInput(blockCount: sequence)
            } catch {
                coordinator.fail(error)
            }
        }
        // Compression workers: each block becomes one independent gzip member or zstd frame.
        for index in 0..<workers {
            startThread(named: "archiver.compress\(index)", group: group) {
                do {
                    let compressor = try makeCompressor(payload, blockSize: blockSize)
                    while let (sequence, block) = coordinator.dequeue() {
                        var out = outputs.take()
                        try block.withData { try compressor.compressBlock($0, appendingTo: &out) }
                        inputs.give(block.bytes)
                        coordinator.deliver(sequence, Block(bytes: out))
                    }
                } catch {
                    coordinator.fail(error)
                }
            }
        }
        // This thread: encrypt, hash what is stored, write.
        do {
            try coordinator.consumeInOrder { block in
                try block.withData { try emitter.feed($0) }
                if workers > 0 { outputs.give(block.bytes) } else { inputs.give(block.bytes) }
            }
            try emitter.finish()
        } catch {
            coordinator.fail(error)
            group.wait()
            throw error
        }
        group.wait()
        if let failure = coordinator.firstFailure { throw failure }
        return finished(emitter, reader: reader, payload: payload, formatID: formatID, encrypted: encryptor != nil)
    }

    private static func finished(
        _ emitter: PayloadEmitter, reader: PlaintextReader, payload: PayloadCompression, formatID: String,
        encrypted: Bool
    ) -> EncodedObject {
        var hasher = emitter.hasher
        let stored = hasher.finish()
        return EncodedObject(
            compression: payload, encrypted: encrypted,
            plaintextSize: reader.count, plaintextSHA256: reader.digest(),
            storedSize: hasher.count, storedMD5: stored.md5, storedSHA256: stored.sha256,
            sliceMD5s: stored.slices, headMD5: stored.head, formatID: formatID)
    }

    /// The pipeline-format id for a payload form and block size.
    /// - Parameters:
    ///   - payload: the payload compression.
    ///   - blockSize: plaintext bytes per gzip member or zstd frame.
    public static func formatID(_ payload: PayloadCompression, blockSize: Int = defaultBlockSize) -> String {
        switch payload {
        case .none:
            return "archiver-object-v1 plain chunk=65536"
        case .gzip(let level):
            return "archiver-object-v1 gzip level=\(level) zlib=\(Zlib.version) members=\(blockSize) chunk=65536"
        case .zstd(let level):
            // The frame parameters ZstdFrameCompressor pins are spelled out, so changing one changes the id.
            let window = Zstd.windowLog(covering: blockSize)
            return "archiver-object-v1 zstd level=\(level) libzstd=\(Zstd.version) frames=\(blockSize) "
                + "window=\(window) checksum=1 content-size=1 chunk=65536"
        }
    }

    /// One worker's compressor for a payload form: every block becomes one gzip member or one zstd frame.
    private static func makeCompressor(_ payload: PayloadCompression, blockSize: Int) throws -> any BlockCompressor {
        switch payload {
        case .none: preconditionFailure("no compressor for a plaintext payload")
        case .gzip(let level): try GzipMemberCompressor(level: level)
        case .zstd(let level): try ZstdFrameCompressor(level: level, windowLog: Zstd.windowLog(covering: blockSize))
        }
    }

    /// How a plaintext limit is named in messages: the catalog's size, or the caller's cap.
    static func limitName(_ expected: Int64?, _ limit: Int64) -> String {
        expected == limit ? "expected \(limit)" : "allowed maximum of \(limit)"
    }

    /// File types whose content is already compressed; `auto` stores them as they are.
    public static let compressedExtensions: Set<String> = [
        "jpg", "jpeg", "heic", "heif", "png", "gif", "webp", "avif", "jxl",
        "mp4", "m4v", "mov", "mkv", "avi", "webm", "wmv", "flv", "ts", "m2ts", "3gp",
        "mp3", "m4a", "aac", "ogg", "opus", "flac", "wma",
        "zip", "7z", "rar", "gz", "tgz", "bz2", "xz", "zst", "lz4", "lzma", "br", "age", "gpg",
        "docx", "xlsx", "pptx", "odt", "ods", "epub", "apk", "jar", "dmg", "iso",
    ]

    /// Applies a compression mode to one file, probing its first block for `auto`.
    static func decideCompression(
        _ mode: CompressionMode, fileName: String?, firstBlock: UnsafeRawBufferPointer
    ) throws -> PayloadCompression {
        switch mode {
        case .off: return .none
        case .level(let level): return .gzip(level: level)
        case .zstd(let level): return .zstd(level: level)
        case .auto(let level):
            if let name = fileName, let dot = name.lastIndex(of: ".") {
                let ext = name[name.index(after: dot)...].lowercased()
                if compressedExtensions.contains(ext) { return .none }
            }
            guard firstBlock.count > 0 else { return .none }
            let probe = UnsafeRawBufferPointer(rebasing: firstBlock.prefix(probeSize))
            var out: [UInt8] = []
            try GzipMemberCompressor(level: 1).compressMember(probe, appendingTo: &out)
            return Double(out.count) < 0.9 * Double(probe.count) ? .gzip(level: level) : .none
        }
    }

    /// Turns library errors into the core's error with a message a user can act on.
    static func userFacing(_ error: any Error) -> any Error {
        switch error {
        case let e as AgeError:
            let code: ArchiverError.Code = e.kind == .noMatch ? .key : .integrity
            return ArchiverError(code, e.message, cause: e)
        case let e as CodecError where e.kind == .tooLarge:
            // A bomb or a wrong expected size, not damage: the payload may be intact but is more than allowed.
            return ArchiverError(.integrity, "the compressed payload is refused: \(e.message)", cause: e)
        case let e as CodecError:
            return ArchiverError(.integrity, "the compressed payload is damaged: \(e.message)", cause: e)
        default:
            return error
        }
    }
}

/// A buffer travelling between stages; only the first `count` bytes are data (input buffers keep their full
/// size so they are never zero-filled again).
struct Block: Sendable {
    var bytes: [UInt8]
    var count: Int

    init(bytes: [UInt8], count: Int? = nil) {
        self.bytes = bytes
        self.count = count ?? bytes.count
    }

    func withData<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

/// Yields `head`, then whatever `rest` yields: bytes read ahead for a decision, put back in front.
private final class PrefixedSource: ByteSource, @unchecked Sendable {
    private var head: [UInt8]
    private var offset = 0
    private let rest: any ByteSource

    init(head: [UInt8], rest: any ByteSource) {
        self.head = head
        self.rest = rest
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < head.count else { return try rest.read(into: buffer) }
        let n = min(buffer.count, head.count - offset)
        head.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
        if offset == head.count {
            head = []  // the megabyte read ahead is not kept for the rest of the run
            offset = 0
        }
        return n
    }
}

/// The reader thread's plaintext digest, read by the caller after the threads joined.
private final class PlaintextReader: @unchecked Sendable {
    private var sha = SHA256()
    private(set) var count: Int64 = 0
    func hash(_ bytes: UnsafeRawBufferPointer) {
        sha.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }
    func digest() -> [UInt8] { Array(sha.finalize()) }
}

/// A byte count written by one thread and read by another after a join.
final class Counter: @unchecked Sendable {
    private(set) var value: Int64 = 0
    func add(_ n: Int) { value += Int64(n) }
}
