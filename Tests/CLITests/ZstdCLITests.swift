import ArchiverTestSupport
import Foundation
import Testing

/// zstd payloads through the real command line: `age -d | zstd -d` reads what we write, we read what
/// `zstd | age` writes, a bomb stops at --max-size, damage is refused, and backups restore.
@Suite struct ZstdCLITests {
    static let zstd = "/usr/bin/zstd"
    static let block = 256 * 1024
    static let sizes = [0, 1, block - 1, block, block + 1, 10 * 1024 * 1024 + 1]
    typealias Keys = EncryptDecryptTests.Keys

    static func requireStockTools() throws -> Bool {
        guard try EncryptDecryptTests.requireStockTools() else { return false }
        if CommandRunner.exists(zstd) { return true }
        if TestData.isCI { Issue.record("zstd is not installed (scripts/install-deps.sh installs it)") }
        print("skipping: /usr/bin/zstd is not installed")
        return false
    }

    static func contents(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test(arguments: sizes)
    func ourObjectsOpenWithStockAgeAndZstd(size: Int) throws {
        guard try Self.requireStockTools() else { return }
        let keys = try Keys()
        let plain = TestBytes.text(size, seed: UInt64(size) + 5)
        let input = try keys.dir.write("in.txt", plain)
        let out = keys.dir.file("o.zst.age").path
        let r = try CommandRunner.archiver([
            "encrypt", "-r", keys.recipient, "--compress", "zstd:3", input.path, "-o", out,
        ])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("warning"), "\(r.stderr)")
        let decrypted = try CommandRunner.run(EncryptDecryptTests.age, ["-d", "-i", keys.identity, out])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        let inflated = try CommandRunner.run(Self.zstd, ["-d", "-c"], stdin: decrypted.stdout)
        #expect(inflated.status == 0, "\(inflated.stderr)")
        #expect(inflated.stdout == plain)
        // And our own decrypt, the suffix implying --zstd.
        let back = keys.dir.file("back").path
        let d = try CommandRunner.archiver(["decrypt", "-i", keys.identity, out, "-o", back])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(try Self.contents(back) == plain)
    }

    @Test func stockZstdInsideStockAgeOpensWithUs() throws {
        guard try Self.requireStockTools() else { return }
        let keys = try Keys()
        let plain = TestBytes.text(3_000_000, seed: 12)
        let zst = try CommandRunner.run(Self.zstd, ["-c", "-T2", "-3"], stdin: plain)
        #expect(zst.status == 0)
        let file = keys.dir.file("stock.zst.age").path
        #expect(
            try CommandRunner.run(EncryptDecryptTests.age, ["-r", keys.recipient, "-o", file], stdin: zst.stdout).status
                == 0)
        let out = keys.dir.file("out").path
        let r = try CommandRunner.archiver(["decrypt", "-i", keys.identity, file, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.contents(out) == plain)
    }

    @Test func aMisnamedOutputIsStoredWithAWarningThatSaysHowToReadIt() throws {
        let keys = try Keys()
        let input = try keys.dir.write("in.txt", TestBytes.text(100_000))
        let misnamed = keys.dir.file("o.age").path
        let r = try CommandRunner.archiver([
            "encrypt", "-r", keys.recipient, "--compress", "zstd:1", input.path, "-o", misnamed,
        ])
        #expect(r.status == 0)
        #expect(
            r.stderr.contains("compressed (zstd); decrypt with --zstd") && r.stderr.contains(".zst.age"), "\(r.stderr)")
    }

    @Test func aBombStopsAtMaxSizeAndLeavesNoOutput() throws {
        let keys = try Keys()
        let input = try keys.dir.write("zeros", [UInt8](repeating: 0, count: 64 << 20))
        let bomb = keys.dir.file("bomb.zst.age").path
        #expect(
            try CommandRunner.archiver([
                "encrypt", "-r", keys.recipient, "--compress", "zstd:19", input.path, "-o", bomb,
            ]).status == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: bomb)[.size] as? Int ?? 0 < 100_000)
        let out = keys.dir.file("out")
        let r = try CommandRunner.archiver(["decrypt", "-i", keys.identity, "--max-size", "1MiB", bomb, "-o", out.path])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(
            r.stderr.contains("more than the limit of 1048576 bytes") && r.stderr.contains("bomb.zst.age"),
            "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: keys.dir.path).filter {
            $0.hasSuffix(".tmp")
        }
        #expect(leftovers.isEmpty)
        // Within the limit it decrypts.
        let whole = try CommandRunner.archiver([
            "decrypt", "-i", keys.identity, "--max-size", "64MiB", bomb, "-o", out.path,
        ])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int == 64 << 20)
    }

    @Test func truncatedAndTrailingGarbagePayloadsAreRefused() throws {
        guard try Self.requireStockTools() else { return }
        let keys = try Keys()
        let plain = TestBytes.text(700_000, seed: 6)
        let zst = try CommandRunner.run(Self.zstd, ["-c", "-3"], stdin: plain).stdout
        // Intact age files around damaged zstd: only the payload check can object.
        for (name, payload) in [
            ("truncated.zst.age", Array(zst.dropLast(3))), ("extended.zst.age", zst + [0x42, 0x42]),
        ] {
            let file = keys.dir.file(name).path
            let sealed = try CommandRunner.run(
                EncryptDecryptTests.age, ["-r", keys.recipient, "-o", file], stdin: payload)
            #expect(sealed.status == 0)
            let out = keys.dir.file("out-\(name)")
            let r = try CommandRunner.archiver(["decrypt", "-i", keys.identity, file, "-o", out.path])
            #expect(r.status == 4, "\(name): \(r.stderr)")
            #expect(
                r.stderr.contains("compressed payload is damaged") && r.stderr.contains(name), "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(name) left an output file")
        }
    }

    @Test func badLevelsAndFlagsAreUsageErrors() throws {
        let keys = try Keys()
        let input = try keys.dir.write("in.txt", [1])
        for bad in ["zstd:0", "zstd:20"] {
            let r = try CommandRunner.archiver([
                "encrypt", "-r", keys.recipient, "--compress", bad, input.path, "-o", keys.dir.file("o").path,
            ])
            #expect(r.status == 64)
            #expect(
                r.stderr.contains("compression '\(bad)' is not valid") && r.stderr.contains("zstd:N (1-19)"),
                "\(r.stderr)")
        }
        let both = try CommandRunner.archiver([
            "decrypt", "-i", keys.identity, "--gunzip", "--zstd", input.path, "-o", "-",
        ])
        #expect(both.status == 64, "\(both.stderr)")
        let size = try CommandRunner.archiver([
            "decrypt", "-i", keys.identity, "--max-size", "lots", input.path, "-o", "-",
        ])
        #expect(size.status == 64, "\(size.stderr)")
        #expect(size.stderr.contains("--max-size 'lots' is not a size"), "\(size.stderr)")
    }

    @Test func aBackupWithZstdRestoresFromALocalDisk() throws {
        guard try Self.requireStockTools() else { return }
        let tree = try SourceTree(largeSize: 3 * 1024 * 1024 + 99)
        let setup = try Setup(tree: tree, compression: "zstd")
        try setup.run(["init"])
        try setup.run(["backup"])
        let usb = tree.dir.file("usb").path
        let objects = try FileManager.default.subpathsOfDirectory(atPath: usb).filter {
            $0.contains("/data/") && $0.hasSuffix(".age")
        }
        #expect(objects.count >= 8)
        #expect(objects.allSatisfy { $0.hasSuffix(".zst.age") }, "\(objects)")
        // Each object opens with the stock tools too.
        let sample = try #require(objects.first)
        let decrypted = try CommandRunner.run(EncryptDecryptTests.age, ["-d", "-i", setup.key, usb + "/" + sample])
        #expect(try CommandRunner.run(Self.zstd, ["-d", "-c"], stdin: decrypted.stdout).status == 0)
        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        try compareTrees(tree.root.path, restored + "/home")
        try setup.run(["verify", "--deep"])
    }
}

extension BaiduBackupTests {
    /// Baidu wants every digest first, so each object is made twice from one secret: the zstd frames must come out
    /// identical on the second pass.
    @Test func aZstdBackupIsRegeneratedIdenticallyForTheHashesFirstUpload() throws {
        let tree = try SourceTree(largeSize: 6 * BaiduSetup.sliceSize + 4321)
        let baidu = try BaiduSetup(tree: tree, compression: "zstd:3")
        try baidu.run(["init"])
        try baidu.run(["backup"])
        try baidu.restoreAndCompare()
        try baidu.run(["verify", "--deep"])
    }
}
