import ArchiverTestSupport
import Foundation
import Testing

/// Interoperability with stock tools through the real command line: what we write, `age -d | gunzip` reads;
/// what `age -r` writes, we read. And every refusal leaves no output file.
@Suite struct EncryptDecryptTests {
    static let sizes = [0, 1, 65535, 65536, 65537, 10 * 1024 * 1024 + 1]
    static let age = "/usr/bin/age"
    static let ageKeygen = "/usr/bin/age-keygen"

    /// A temp folder with an identity made by `archiver key generate` and its recipient.
    struct Keys {
        let dir: TemporaryDirectory
        let identity: String
        let recipient: String

        init() throws {
            dir = try TemporaryDirectory()
            identity = dir.file("key.txt").path
            let result = try CommandRunner.archiver(["key", "generate", "--output", identity])
            try #require(result.status == 0, "key generate failed: \(result.stderr)")
            recipient = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(result.stderr.contains("somewhere safe"))
        }
    }

    static func requireStockTools() throws -> Bool {
        if CommandRunner.exists(age) && CommandRunner.exists(ageKeygen) { return true }
        if TestData.isCI { Issue.record("age is not installed (scripts/install-deps.sh installs it)") }
        print("skipping: /usr/bin/age is not installed")
        return false
    }

    @Test(arguments: sizes)
    func ourObjectsOpenWithStockAgeAndGunzip(size: Int) throws {
        guard try Self.requireStockTools() else { return }
        let keys = try Keys()
        let plain = TestBytes.text(size, seed: UInt64(size) + 1)
        let input = try keys.dir.write("in.txt", plain)
        for (mode, name) in [("1", "o.gz.age"), ("0", "o.age")] {
            let out = keys.dir.file(name).path
            let r = try CommandRunner.archiver(["encrypt", "-r", keys.recipient, "--compress", mode, input.path, "-o", out])
            try #require(r.status == 0, "\(r.stderr)")
            let decrypted = try CommandRunner.run(Self.age, ["-d", "-i", keys.identity, out])
            #expect(decrypted.status == 0, "\(decrypted.stderr)")
            if mode == "0" {
                #expect(decrypted.stdout == plain)
            } else {
                let inflated = try CommandRunner.run("/usr/bin/gzip", ["-dc"], stdin: decrypted.stdout)
                #expect(inflated.status == 0)
                #expect(inflated.stdout == plain)
            }
            // And our own decrypt, the suffix implying --gunzip.
            let back = keys.dir.file("back-\(mode)").path
            let d = try CommandRunner.archiver(["decrypt", "-i", keys.identity, out, "-o", back])
            #expect(d.status == 0, "\(d.stderr)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: back))) == plain)
        }
    }

    @Test(arguments: sizes)
    func stockAgeObjectsOpenWithUs(size: Int) throws {
        guard try Self.requireStockTools() else { return }
        let dir = try TemporaryDirectory()
        // An identity made by age-keygen works unchanged.
        let key = dir.file("age-keygen.txt").path
        #expect(try CommandRunner.run(Self.ageKeygen, ["-o", key]).status == 0)
        let recipient = try CommandRunner.archiver(["key", "recipient", key]).stdoutText
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(recipient.hasPrefix("age1"))
        let plain = TestBytes.random(size, seed: UInt64(size) + 2)
        let input = try dir.write("in.bin", plain)
        // Plain age, and gzip inside age.
        let ageFile = dir.file("x.age").path
        #expect(try CommandRunner.run(Self.age, ["-r", recipient, "-o", ageFile, input.path]).status == 0)
        let gz = try CommandRunner.run("/usr/bin/gzip", ["-c"], stdin: plain).stdout
        let gzAge = dir.file("x.gz.age").path
        #expect(try CommandRunner.run(Self.age, ["-r", recipient, "-o", gzAge], stdin: gz).status == 0)
        for file in [ageFile, gzAge] {
            let out = dir.file("out-\(URL(fileURLWithPath: file).lastPathComponent)").path
            let r = try CommandRunner.archiver(["decrypt", "-i", key, file, "-o", out])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == plain)
        }
    }

    @Test func passphraseFilesOpenScryptObjects() throws {
        // `age -p` reads passphrases from a terminal only, so use the CCTV scrypt vector that age made.
        guard let root = TestData.root() else {
            if TestData.isCI { Issue.record("shared/testdata not found") }
            return
        }
        let dir = try TemporaryDirectory()
        let vector = try [UInt8](Data(contentsOf: root.appendingPathComponent("age-cctv/scrypt")))
        let blank = try #require(vector.indices.first { vector[$0] == 10 && vector[$0 + 1] == 10 })
        let file = try dir.write("v.age", Array(vector[(blank + 2)...]))
        try dir.write("pass.txt", Array("password\n".utf8))
        let out = dir.file("out").path
        let r = try CommandRunner.archiver(["decrypt", "--passphrase-file", dir.file("pass.txt").path, file.path, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        try dir.write("wrong.txt", Array("not it\n".utf8))
        let wrong = try CommandRunner.archiver(["decrypt", "--passphrase-file", dir.file("wrong.txt").path, file.path, "-o", out + "2"])
        #expect(wrong.status == 5, "\(wrong.stderr)")
    }

    @Test func refusalsExitNonZeroAndLeaveNoOutput() throws {
        let keys = try Keys()
        let plain = TestBytes.text(300_000, seed: 5)
        let input = try keys.dir.write("in.txt", plain)
        let good = keys.dir.file("good.gz.age").path
        #expect(try CommandRunner.archiver(["encrypt", "-r", keys.recipient, "--compress", "6", input.path, "-o", good]).status == 0)
        let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))

        let other = keys.dir.file("other.txt").path
        #expect(try CommandRunner.archiver(["key", "generate", "--output", other]).status == 0)

        var flipped = stored
        flipped[stored.count / 2] ^= 1
        let cases: [(String, [UInt8], String, Int32, String)] = [
            ("flipped.gz.age", flipped, keys.identity, 4, "authenticate"),
            ("truncated.gz.age", Array(stored.prefix(stored.count - 10)), keys.identity, 4, ""),
            ("extended.gz.age", stored + [0x42], keys.identity, 4, ""),
            ("header.gz.age", Array(stored.prefix(40)), keys.identity, 4, ""),
            ("wrongkey.gz.age", stored, other, 5, "identit"),
        ]
        for (name, bytes, identity, status, phrase) in cases {
            let file = try keys.dir.write(name, bytes)
            let out = keys.dir.file("out-\(name)")
            let r = try CommandRunner.archiver(["decrypt", "-i", identity, file.path, "-o", out.path])
            #expect(r.status == status, "\(name): \(r.stderr)")
            #expect(r.stderr.contains(name), "\(name): the message names the file: \(r.stderr)")
            #expect(phrase.isEmpty || r.stderr.contains(phrase), "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(name) left an output file")
        }
        // A valid age file whose payload is not gzip, decrypted with --gunzip: a damaged-gzip error.
        let plainAge = keys.dir.file("plain.age").path
        #expect(try CommandRunner.archiver(["encrypt", "-r", keys.recipient, "--compress", "0", input.path, "-o", plainAge]).status == 0)
        let out = keys.dir.file("out-gz")
        let r = try CommandRunner.archiver(["decrypt", "-i", keys.identity, "--gunzip", plainAge, "-o", out.path])
        #expect(r.status == 4)
        #expect(r.stderr.contains("compressed payload is damaged"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        // No temporary files left beside the outputs either.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: keys.dir.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func existingOutputsAndIdentitiesAreNeverReplaced() throws {
        let keys = try Keys()
        let again = try CommandRunner.archiver(["key", "generate", "--output", keys.identity])
        #expect(again.status == 64)
        #expect(again.stderr.contains("already exists"))
        let attrs = try FileManager.default.attributesOfItem(atPath: keys.identity)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)

        let input = try keys.dir.write("in.txt", TestBytes.text(1000))
        let existing = try keys.dir.write("taken.age", [1, 2, 3])
        let r = try CommandRunner.archiver(["encrypt", "-r", keys.recipient, input.path, "-o", existing.path])
        #expect(r.status == 64)
        #expect(try [UInt8](Data(contentsOf: existing)) == [1, 2, 3])
    }

    @Test(arguments: [("1", "--gunzip"), ("zstd", "--zstd")])
    func streamsThroughStdinAndStdout(compress: String, flag: String) throws {
        let keys = try Keys()
        let plain = TestBytes.text(2_000_000, seed: 11)
        let enc = try CommandRunner.archiver(["encrypt", "-r", keys.recipient, "--compress", compress, "-", "-o", "-"], stdin: plain)
        #expect(enc.status == 0, "\(enc.stderr)")
        let dec = try CommandRunner.archiver(["decrypt", "-i", keys.identity, flag, "-", "-o", "-"], stdin: enc.stdout)
        #expect(dec.status == 0, "\(dec.stderr)")
        #expect(dec.stdout == plain)
    }

    @Test func badRecipientsAndCompressionAreUsageErrors() throws {
        let dir = try TemporaryDirectory()
        let input = try dir.write("in.txt", [1])
        let r1 = try CommandRunner.archiver(["encrypt", "-r", "age1notakey", input.path, "-o", dir.file("o").path])
        #expect(r1.status == 5)
        #expect(r1.stderr.contains("age1notakey"))
        let r2 = try CommandRunner.archiver(["encrypt", "--compress", "fast", input.path, "-o", dir.file("o").path])
        #expect(r2.status == 64)
        #expect(r2.stderr.contains("compression 'fast'"))
    }
}
