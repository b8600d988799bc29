import Age
import ArchiverKit
import ArchiverTestSupport
import Codecs
import Foundation
import Testing

private let zstdTool = "/usr/bin/zstd"

/// The zstd payload through the pipeline: round trips, stock `zstd -d`, determinism, refusals.
@Suite struct ZstdPipelineTests {
    static let block = ObjectPipeline.defaultBlockSize
    static let sizes = [0, 1, 65536, block - 1, block, block + 1, 4 * block, 10 * 1024 * 1024 + 1]

    @Test(arguments: sizes)
    func roundTrips(size: Int) throws {
        let data = TestBytes.text(size, seed: UInt64(size) + 3)
        for encrypted in [true, false] {
            let (stored, result) = try encode(data) {
                $0.compression = .zstd(level: 3)
                if !encrypted { $0.recipients = [] }
            }
            #expect(result.compression == .zstd(level: 3))
            #expect(result.plaintextSize == Int64(size))
            #expect(result.storedSize == Int64(stored.count))
            if size > 100_000 { #expect(stored.count < size / 2, "text shrinks") }
            let back = try decode(stored, compression: .zstd(level: 0), identities: encrypted ? [identity] : []) {
                $0.expectedSize = Int64(size)
                $0.expectedSHA256 = sha256(data)
            }
            #expect(back == data, "encrypted \(encrypted)")
        }
    }

    @Test func anUnencryptedObjectIsAZstdFileForTheStockTool() throws {
        let data = TestBytes.text(3 * Self.block + 777, seed: 4)
        let (stored, _) = try encode(data) {
            $0.compression = .zstd(level: 19)
            $0.recipients = []
        }
        #expect(Array(stored.prefix(4)) == [0x28, 0xb5, 0x2f, 0xfd])
        guard CommandRunner.exists(zstdTool) else {
            if TestData.isCI { Issue.record("zstd is not installed (scripts/install-deps.sh installs it)") }
            return
        }
        let dir = try TemporaryDirectory()
        let file = try dir.write("o.zst", stored)
        let listing = try CommandRunner.run(zstdTool, ["-l", file.path])
        #expect(listing.stdoutText.contains("4 "), "one frame per block: \(listing.stdoutText)")
        let out = try CommandRunner.run(zstdTool, ["-dc", file.path])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout == data)
    }

    @Test func sameSecretGivesIdenticalBytesWithOneToFourWorkers() throws {
        let data = TestBytes.text(4 * 1024 * 1024 + 777, seed: 9)
        let secret = ObjectSecret.random()
        var outputs: [[UInt8]] = []
        for (workers, inFlight) in [(1, 1), (2, 4), (3, 2), (4, 8)] {
            let (stored, result) = try encode(data) {
                $0.compression = .zstd(level: 3)
                $0.secret = secret
                $0.workers = workers
                $0.inFlight = inFlight
            }
            #expect(result.compression == .zstd(level: 3))
            outputs.append(stored)
        }
        #expect(Set(outputs).count == 1)
        #expect(try decode(outputs[0], compression: .zstd(level: 3)) == data)
        // And the object is not the gzip one.
        #expect(try encode(data) { $0.secret = secret }.stored != outputs[0])
    }

    @Test func theFormatIDRecordsEverythingThatShapesTheBytes() throws {
        let data = TestBytes.text(300_000)
        let (_, result) = try encode(data) {
            $0.compression = .zstd(level: 5)
            $0.secret = .random()
        }
        let id = result.formatID
        #expect(id.contains("zstd level=5"), "\(id)")
        #expect(id.contains("libzstd=\(Zstd.version)"), "\(id)")
        #expect(id.contains("frames=\(Self.block)") && id.contains("window=18"), "\(id)")
        #expect(id.contains("checksum=1") && id.contains("content-size=1"), "\(id)")
        #expect(id == ObjectPipeline.formatID(.zstd(level: 5)))
        #expect(
            try encode(data) {
                $0.compression = .zstd(level: 5)
                $0.expectedFormatID = id
            }.result.formatID == id)
        for other in [CompressionMode.zstd(level: 6), .level(5)] {
            #expect(throws: ArchiverError.self) {
                try encode(data) {
                    $0.compression = other
                    $0.expectedFormatID = id
                }
            }
        }
    }

    @Test func aBombStopsAtTheExpectedSizeOrTheCap() throws {
        let zeros = [UInt8](repeating: 0, count: 32 << 20)
        let (stored, result) = try encode(zeros) { $0.compression = .zstd(level: 19) }
        #expect(stored.count < 200_000)
        for cap in [\DecodeOptions.expectedSize, \DecodeOptions.maxSize] {
            let sink = CountingSink()
            var options = DecodeOptions(identities: [identity], compression: result.compression)
            options[keyPath: cap] = 1 << 20
            let e = #expect(throws: ArchiverError.self) {
                _ = try ObjectPipeline.decode(from: MemorySource(stored), to: sink, options: options)
            }
            #expect(e?.code == .integrity)
            #expect(e?.message.contains("\(1 << 20) bytes") == true, "\(e?.message ?? "")")
            #expect(sink.count <= 1 << 20)
        }
        // A cap above the size lets it through.
        #expect(try decode(stored, compression: result.compression) { $0.maxSize = 32 << 20 }.count == 32 << 20)
    }

    @Test func truncatedAndTrailingGarbagePayloadsAreRefused() throws {
        let data = TestBytes.text(600_000, seed: 3)
        let (frames, _) = try encode(data) {
            $0.compression = .zstd(level: 3)
            $0.recipients = []
        }
        let damaged: [(String, [UInt8])] = [
            ("truncated", Array(frames.prefix(frames.count - 1))),
            ("cut mid-way", Array(frames.prefix(frames.count / 2))),
            ("trailing garbage", frames + Array("junk".utf8)),
            ("trailing zeros", frames + [0, 0, 0, 0, 0, 0, 0, 0]),
        ]
        for (what, payload) in damaged {
            // Unencrypted, and sealed intact inside age, so only the zstd layer can object.
            let (sealed, _) = try encode(payload) { $0.compression = .off }
            for (stored, identities) in [(payload, [any AgeIdentity]()), (sealed, [identity])] {
                let e = #expect(throws: ArchiverError.self, "\(what)") {
                    try decode(stored, compression: .zstd(level: 3), identities: identities)
                }
                #expect(e?.code == .integrity)
                #expect(e?.message.contains("compressed payload is damaged") == true, "\(what): \(e?.message ?? "")")
            }
        }
        // A plaintext payload read as zstd, and a zstd payload read as gzip.
        let (plain, _) = try encode(data) { $0.compression = .off }
        #expect(throws: ArchiverError.self) { try decode(plain, compression: .zstd(level: 3)) }
        let (zst, _) = try encode(data) { $0.compression = .zstd(level: 3) }
        #expect(throws: ArchiverError.self) { try decode(zst, compression: .gzip(level: 1)) }
    }

    @Test func modesParseAndPayloadsNameThemselves() throws {
        #expect(try CompressionMode(parsing: "zstd") == .zstd(level: 3))
        #expect(try CompressionMode(parsing: "ZSTD:19") == .zstd(level: 19))
        #expect(try CompressionMode(parsing: " zstd:1 ") == .zstd(level: 1))
        for bad in ["zstd:0", "zstd:20", "zstd:", "zstd:x", "zstd3", "zst"] {
            let e = #expect(throws: ArchiverError.self, "\(bad)") { try CompressionMode(parsing: bad) }
            #expect(e?.message.contains("zstd:N (1-19)") == true)
        }
        #expect(CompressionMode.zstd(level: 3).description == "zstd")
        #expect(CompressionMode.zstd(level: 19).description == "zstd:19")
        #expect(CompressionMode(always: .zstd(level: 7)) == .zstd(level: 7))
        #expect(CompressionMode(always: .gzip(level: 2)) == .level(2))
        #expect(CompressionMode(always: .none) == .off)

        let payload = PayloadCompression.zstd(level: 19)
        #expect(payload.catalogName == "zstd:19")
        #expect(PayloadCompression(catalogName: "zstd:19") == payload)
        #expect(PayloadCompression(catalogName: "gzip:6") == .gzip(level: 6))
        #expect(PayloadCompression(catalogName: "none") == .none)
        #expect(payload.suffix(encrypted: true) == ".zst.age")
        #expect(payload.suffix(encrypted: false) == ".zst")
        #expect(payload.isCompressed && payload.formatName == "zstd")
        // `auto` stays gzip.
        #expect(
            try encode(TestBytes.text(300_000)) { $0.compression = .auto(level: 6) }.result.compression
                == .gzip(level: 6))
    }
}
