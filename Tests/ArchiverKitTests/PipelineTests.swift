import Age
import ArchiverKit
import ArchiverTestSupport
import Crypto
import Testing

// The keys and helpers below are shared with the other pipeline suites (ZstdPipelineTests).
let identity = X25519Identity.generate()
let otherIdentity = X25519Identity.generate()

func encode(
    _ data: [UInt8], _ configure: (inout EncodeOptions) -> Void = { _ in }
) throws -> (stored: [UInt8], result: EncodedObject) {
    var options = EncodeOptions(recipients: [identity.recipient], compression: .level(1))
    configure(&options)
    let sink = MemorySink()
    let result = try ObjectPipeline.encode(from: MemorySource(data), to: sink, options: options)
    return (sink.bytes, result)
}

func decode(
    _ stored: [UInt8], compression: PayloadCompression, identities: [any AgeIdentity] = [identity],
    _ configure: (inout DecodeOptions) -> Void = { _ in }
) throws -> [UInt8] {
    var options = DecodeOptions(identities: identities, compression: compression)
    configure(&options)
    let sink = MemorySink()
    _ = try ObjectPipeline.decode(from: MemorySource(stored), to: sink, options: options)
    return sink.bytes
}

private func md5(_ bytes: some Sequence<UInt8>) -> [UInt8] { Array(Insecure.MD5.hash(data: Array(bytes))) }
func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] { Array(SHA256.hash(data: Array(bytes))) }

@Suite struct PipelineTests {
    static let sizes = [0, 1, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]

    @Test(arguments: sizes)
    func roundTripsEveryForm(size: Int) throws {
        let data = TestBytes.text(size, seed: UInt64(size))
        for mode in [CompressionMode.off, .level(1), .level(9)] {
            for encrypted in [true, false] {
                let (stored, result) = try encode(data) {
                    $0.compression = mode
                    if !encrypted { $0.recipients = [] }
                }
                #expect(result.plaintextSize == Int64(size))
                #expect(result.plaintextSHA256 == sha256(data))
                #expect(result.storedSize == Int64(stored.count))
                #expect(result.encrypted == encrypted)
                let back = try decode(stored, compression: result.compression, identities: encrypted ? [identity] : []) {
                    $0.expectedSize = Int64(size)
                    $0.expectedSHA256 = sha256(data)
                }
                #expect(back == data, "mode \(mode), encrypted \(encrypted)")
            }
        }
    }

    @Test func storedDigestsDescribeTheStoredBytes() throws {
        let data = TestBytes.random(5 * 1024 * 1024 + 333)
        let (stored, result) = try encode(data) {
            $0.compression = .off
            $0.digests = .baidu
            $0.sliceSize = 1 << 20
        }
        #expect(result.storedMD5 == md5(stored))
        #expect(result.storedSHA256 == sha256(stored))
        #expect(result.headMD5 == md5(stored.prefix(256 * 1024)))
        let slices = stride(from: 0, to: stored.count, by: 1 << 20).map { md5(stored[$0..<min($0 + (1 << 20), stored.count)]) }
        #expect(result.sliceMD5s == slices)
        #expect(result.sliceMD5s.count == 6)
    }

    @Test func digestsAreOnlyComputedWhenAsked() throws {
        let (_, result) = try encode(TestBytes.text(1000)) { $0.digests = [] }
        #expect(result.storedMD5 == nil && result.storedSHA256 == nil && result.headMD5 == nil)
        #expect(result.sliceMD5s.isEmpty)
    }

    @Test func autoCompressesOnlyWhereItPays() throws {
        let auto = CompressionMode.auto(level: 6)
        #expect(try encode(TestBytes.text(300_000)) { $0.compression = auto }.result.compression == .gzip(level: 6))
        #expect(try encode(TestBytes.random(300_000)) { $0.compression = auto }.result.compression == .none)
        let photo = try encode(TestBytes.text(300_000)) {
            $0.compression = auto
            $0.fileName = "IMG_0001.JPG"
        }
        #expect(photo.result.compression == .none)
        #expect(try encode([]) { $0.compression = auto }.result.compression == .none)
    }

    @Test func compressionModesParse() throws {
        #expect(try CompressionMode(parsing: "auto") == .auto(level: CompressionMode.defaultAutoLevel))
        #expect(try CompressionMode(parsing: "auto:1") == .auto(level: 1))
        #expect(try CompressionMode(parsing: "0") == .off)
        #expect(try CompressionMode(parsing: "9") == .level(9))
        for bad in ["10", "fast", "auto:0", "-1", ""] {
            #expect(throws: ArchiverError.self) { try CompressionMode(parsing: bad) }
        }
        #expect(PayloadCompression.gzip(level: 6).suffix(encrypted: true) == ".gz.age")
        #expect(PayloadCompression.none.suffix(encrypted: true) == ".age")
        #expect(PayloadCompression.gzip(level: 6).suffix(encrypted: false) == ".gz")
    }
}

@Suite struct DeterministicModeTests {
    let data = TestBytes.text(4 * 1024 * 1024 + 777, seed: 9)

    @Test func sameSecretGivesIdenticalBytesWhateverTheThreading() throws {
        let secret = ObjectSecret.random()
        var outputs: [[UInt8]] = []
        for (workers, inFlight) in [(1, 1), (2, 4), (3, 2), (4, 8)] {
            let (stored, _) = try encode(data) {
                $0.secret = secret
                $0.workers = workers
                $0.inFlight = inFlight
            }
            outputs.append(stored)
        }
        #expect(Set(outputs).count == 1)
        #expect(try decode(outputs[0], compression: .gzip(level: 1)) == data)
    }

    @Test func twoRecipientsEachGetTheirOwnDerivedEphemeral() throws {
        let secret = ObjectSecret.random()
        let a = try encode(data) {
            $0.secret = secret
            $0.recipients = [identity.recipient, otherIdentity.recipient]
        }
        let b = try encode(data) {
            $0.secret = secret
            $0.recipients = [identity.recipient, otherIdentity.recipient]
        }
        #expect(a.stored == b.stored)
        #expect(try decode(a.stored, compression: a.result.compression, identities: [otherIdentity]) == data)
        #expect(secret.ephemeralSecrets(count: 2)[0] != secret.ephemeralSecrets(count: 2)[1])
    }

    @Test func freshRandomnessWithoutASecret() throws {
        #expect(try encode(data).stored != encode(data).stored)
    }

    @Test func differentSecretsGiveDifferentObjects() throws {
        #expect(try encode(data) { $0.secret = .random() }.stored != encode(data) { $0.secret = .random() }.stored)
    }

    @Test func changedPlaintextIsDetectedBySliceDigests() throws {
        // Pass 2 of a hashes-first upload compares each regenerated slice with pass 1; a file that changed in
        // between must show up there, so the upload is aborted instead of committing mixed content.
        let secret = ObjectSecret.random()
        var changed = data
        changed[3 * 1024 * 1024] ^= 1
        func slices(_ bytes: [UInt8]) throws -> [[UInt8]] {
            try encode(bytes) {
                $0.secret = secret
                $0.compression = .off
                $0.digests = .baidu
                $0.sliceSize = 1 << 20
            }.result.sliceMD5s
        }
        let first = try slices(data)
        let second = try slices(changed)
        #expect(first.count == 5 && second.count == 5)
        #expect(first[0..<3] == second[0..<3])
        #expect(first[3] != second[3])
    }

    @Test func formatMismatchIsRefused() throws {
        let (_, result) = try encode(data) { $0.secret = .random() }
        #expect(result.formatID.contains("zlib="))
        #expect(try encode(data) { $0.expectedFormatID = result.formatID }.result.formatID == result.formatID)
        #expect(throws: ArchiverError.self) {
            try encode(data) { $0.expectedFormatID = "archiver-object-v1 gzip level=1 zlib=0.9 members=1048576 chunk=65536" }
        }
        #expect(throws: ArchiverError.self) {
            try encode(data) {
                $0.expectedFormatID = result.formatID
                $0.compression = .level(2)
            }
        }
    }

    @Test func derivedValuesAreDistinctAndStable() throws {
        let secret = try ObjectSecret(bytes: Array(repeating: 7, count: 32))
        #expect(secret.fileKey.bytes == secret.fileKey.bytes)
        #expect(secret.fileKey.bytes.count == 16 && secret.payloadNonce.count == 16)
        #expect(secret.fileKey.bytes != secret.payloadNonce)
        #expect(throws: ArchiverError.self) { try ObjectSecret(bytes: [1, 2, 3]) }
    }
}

@Suite struct DecodeRefusalTests {
    let data = TestBytes.text(400_000, seed: 3)

    @Test func wrongIdentityIsAKeyError() throws {
        let (stored, result) = try encode(data)
        #expect {
            try decode(stored, compression: result.compression, identities: [otherIdentity])
        } throws: { ($0 as? ArchiverError)?.code == .key }
    }

    /// Small objects of known size decode on the calling thread, others in stages; both refuse damage alike.
    @Test(arguments: [(200_000, true), (200_000, false), (3 << 20, true), (3 << 20, false)])
    func tamperingAndTruncationAreIntegrityErrors(size: Int, sizeKnown: Bool) throws {
        let data = TestBytes.text(size, seed: 11)
        for mode in [CompressionMode.off, .level(1), .zstd(level: 3)] {
            let (stored, result) = try encode(data) { $0.compression = mode }
            var flipped = stored
            flipped[stored.count / 2] ^= 0x40
            let damaged = [flipped, Array(stored.prefix(stored.count - 1)), Array(stored.prefix(300)), stored + [0]]
            for (index, bad) in damaged.enumerated() {
                let sink = MemorySink()
                var options = DecodeOptions(identities: [identity], compression: result.compression)
                if sizeKnown { options.expectedSize = Int64(size) }
                #expect {
                    try ObjectPipeline.decode(from: MemorySource(bad), to: sink, options: options)
                } throws: { ($0 as? ArchiverError)?.code == .integrity }
                // Nothing past the damaged chunk was released. (Data after an authentic final chunk releases that
                // chunk, as the reference age does, and still fails the decode.)
                if index < 3 { #expect(sink.bytes.count < size, "\(mode), damage \(index)") }
            }
        }
    }

    /// A sink that fails stops every stage and its error reaches the caller, on both paths.
    @Test(arguments: [200_000, 3 << 20])
    func aFailingSinkStopsTheDecode(size: Int) throws {
        let data = TestBytes.text(size, seed: 12)
        let (stored, result) = try encode(data)
        var options = DecodeOptions(identities: [identity], compression: result.compression)
        options.expectedSize = Int64(size)
        #expect(throws: SinkFull.self) {
            try ObjectPipeline.decode(from: MemorySource(stored), to: FailingSink(after: 100_000), options: options)
        }
    }

    @Test func sizeAndHashExpectationsAreEnforced() throws {
        let (stored, result) = try encode(data)
        #expect(throws: ArchiverError.self) {
            try decode(stored, compression: result.compression) { $0.expectedSize = 1000 }
        }
        #expect(throws: ArchiverError.self) {
            try decode(stored, compression: result.compression) { $0.expectedSize = Int64(data.count + 1) }
        }
        #expect(throws: ArchiverError.self) {
            try decode(stored, compression: result.compression) { $0.expectedSHA256 = Array(repeating: 0, count: 32) }
        }
    }

    @Test func gzipBombStopsAtTheExpectedSize() throws {
        let zeros = [UInt8](repeating: 0, count: 32 << 20)
        let (stored, result) = try encode(zeros) { $0.compression = .level(9) }
        #expect(stored.count < 200_000)
        let sink = CountingSink()
        var options = DecodeOptions(identities: [identity], compression: result.compression)
        options.expectedSize = 1 << 20
        #expect(throws: ArchiverError.self) {
            _ = try ObjectPipeline.decode(from: MemorySource(stored), to: sink, options: options)
        }
        #expect(sink.count <= 1 << 20)
    }

    @Test func aPlainPayloadReadAsGzipIsRefused() throws {
        let (stored, _) = try encode(data) { $0.compression = .off }
        #expect(throws: ArchiverError.self) { try decode(stored, compression: .gzip(level: 1)) }
    }
}

private struct SinkFull: Error {}

/// Accepts `after` bytes, then fails like a full disk.
private final class FailingSink: ByteSink, @unchecked Sendable {
    let after: Int
    var count = 0
    init(after: Int) { self.after = after }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        count += bytes.count
        if count > after { throw SinkFull() }
    }
}

final class CountingSink: ByteSink, @unchecked Sendable {
    var count = 0
    func write(_ bytes: UnsafeRawBufferPointer) throws { count += bytes.count }
}
