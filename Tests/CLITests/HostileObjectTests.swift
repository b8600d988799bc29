import ArchiverTestSupport
import Foundation
import Testing

/// Hostile objects through the real `archiver decrypt`: a bit flipped in each region of an encrypted gzip object and
/// of an encrypted uncompressed one, truncation at each region boundary, appended bytes, another key, damaged gzip
/// inside an authentic payload, and a gzip bomb. Each is refused with its own message and exit status, and leaves
/// nothing in the output folder: no output, no temporary file.
@Suite struct HostileObjectTests {
    /// Two good objects, their keys and their plaintext, made once by the real binary.
    struct Fixture: Sendable {
        /// The identity file's text, the recipient, and an unrelated identity.
        let identity: [UInt8]
        let recipient: String
        let otherIdentity: [UInt8]
        /// Exactly three chunks, so the last chunk is full; stored uncompressed.
        let plain: [UInt8]
        let plainObject: [UInt8]
        /// Incompressible, stored as gzip level 1: four chunks, the last one short.
        let gzipPlain: [UInt8]
        let gzipObject: [UInt8]
        /// The gzip stream inside `gzipObject`.
        let gzipPayload: [UInt8]

        init() throws {
            let dir = try TemporaryDirectory(prefix: "archiver-hostile")
            let key = dir.file("key.txt").path
            let made = try CommandRunner.archiver(["key", "generate", "--output", key])
            try #require(made.status == 0, "key generate: \(made.stderr)")
            recipient = made.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            identity = try [UInt8](Data(contentsOf: URL(fileURLWithPath: key)))
            let other = dir.file("other.txt").path
            try #require(try CommandRunner.archiver(["key", "generate", "--output", other]).status == 0)
            otherIdentity = try [UInt8](Data(contentsOf: URL(fileURLWithPath: other)))

            plain = TestBytes.random(3 * 65536, seed: 61)
            plainObject = try Self.encrypt(plain, level: "0", to: recipient, in: dir)
            gzipPlain = TestBytes.random(200_000, seed: 62)
            gzipObject = try Self.encrypt(gzipPlain, level: "1", to: recipient, in: dir)
            // Decrypted without --gunzip (the name does not end in .gz.age), the payload comes back as gzip.
            let payload = try dir.write("payload.age", gzipObject)
            let out = dir.file("payload.gz").path
            let d = try CommandRunner.archiver(["decrypt", "-i", key, payload.path, "-o", out])
            try #require(d.status == 0, "decrypt: \(d.stderr)")
            gzipPayload = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        }

        /// Encrypts bytes with the real binary at a compression level ("0" stores them as they are).
        static func encrypt(_ bytes: [UInt8], level: String, to recipient: String, in dir: TemporaryDirectory)
            throws -> [UInt8]
        {
            let name = UUID().uuidString
            let input = try dir.write("\(name).in", bytes)
            let output = dir.file("\(name).age").path
            let r = try CommandRunner.archiver(
                ["encrypt", "-r", recipient, "--compress", level, input.path, "-o", output])
            try #require(r.status == 0, "encrypt: \(r.stderr)")
            return try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        }
    }

    /// Made on first use and shared by every test of the suite.
    static let fixture = Result { try Fixture() }

    /// Where the regions of an age object start, read from its bytes.
    struct Layout {
        let versionEnd: Int
        /// The stanza line `-> X25519 SHARE`: where its type and its argument start, and where the line ends.
        let stanzaType: Int
        let stanzaArgument: Int
        let stanzaEnd: Int
        /// The body line of the stanza, and the `--- MAC` line.
        let bodyEnd: Int
        let macLine: Int
        let headerEnd: Int
        var payloadStart: Int { headerEnd + 16 }
        let chunkCount: Int
        static let chunk = 65536 + 16

        init(_ object: [UInt8]) throws {
            func line(after start: Int) throws -> Int {
                try #require(object[start...].firstIndex(of: 10)) + 1
            }
            versionEnd = try line(after: 0)
            stanzaType = versionEnd + 3
            stanzaArgument = versionEnd + 10
            stanzaEnd = try line(after: versionEnd)
            bodyEnd = try line(after: stanzaEnd)
            macLine = bodyEnd
            headerEnd = try line(after: macLine)
            try #require(object[versionEnd..<stanzaArgument].elementsEqual("-> X25519 ".utf8))
            try #require(object[macLine..<macLine + 4].elementsEqual("--- ".utf8))
            chunkCount = (object.count - headerEnd - 16 + Self.chunk - 1) / Self.chunk
        }

        func chunkStart(_ index: Int) -> Int { payloadStart + index * Self.chunk }
    }

    /// One hostile input and what the refusal must say.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let status: Int32
        let phrases: [String]
        var wrongKey = false
        var testDescription: String { name }
    }

    static let base64Alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Flips the lowest bit of one byte.
    static func flip(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
        var copy = bytes
        copy[offset] ^= 1
        return copy
    }

    /// Flips the lowest bit of the first base64 character in `range` that stays a base64 character, so the header
    /// still parses and the damage reaches the cryptography (the last character is skipped: its low bits are padding).
    static func flipBase64(_ bytes: [UInt8], in range: Range<Int>) throws -> [UInt8] {
        let offset = try #require(range.dropLast().first { base64Alphabet.contains(bytes[$0] ^ 1) })
        return flip(bytes, at: offset)
    }

    /// The flips, truncations and extensions that apply to any object, with the messages they must produce.
    static func damagedObjects(_ object: [UInt8], label: String) throws -> [Case] {
        let l = try Layout(object)
        let last = l.chunkCount - 1
        let lastFailed = "the final payload chunk (chunk \(last)) failed to authenticate"
        let lastIsFull = object.count - l.chunkStart(last) == Layout.chunk
        return [
            Case(
                name: "\(label) flip: age- prefix", bytes: flip(object, at: 0), status: 4,
                phrases: ["not an age file"]),
            Case(
                name: "\(label) flip: version", bytes: flip(object, at: l.versionEnd - 3), status: 4,
                phrases: ["unsupported age format version \"w1\""]),
            Case(
                name: "\(label) flip: stanza type", bytes: flip(object, at: l.stanzaType), status: 5,
                phrases: ["none of the 1 identities matches any of the 1 stanzas (Y25519)"]),
            Case(
                name: "\(label) flip: stanza share",
                bytes: try flipBase64(object, in: l.stanzaArgument..<l.stanzaEnd - 1), status: 5,
                phrases: ["none of the 1 identities matches"]),
            Case(
                name: "\(label) flip: stanza body", bytes: try flipBase64(object, in: l.stanzaEnd..<l.bodyEnd - 1),
                status: 5, phrases: ["none of the 1 identities matches"]),
            Case(
                name: "\(label) flip: header MAC", bytes: try flipBase64(object, in: l.macLine + 4..<l.headerEnd - 1),
                status: 4, phrases: ["the header MAC does not match"]),
            Case(
                name: "\(label) flip: payload nonce", bytes: flip(object, at: l.headerEnd + 5), status: 4,
                phrases: ["payload chunk 0 failed to authenticate"]),
            Case(
                name: "\(label) flip: first chunk", bytes: flip(object, at: l.chunkStart(0) + 100), status: 4,
                phrases: ["payload chunk 0 failed to authenticate"]),
            Case(
                name: "\(label) flip: middle chunk", bytes: flip(object, at: l.chunkStart(1) + 30_000), status: 4,
                phrases: ["payload chunk 1 failed to authenticate"]),
            Case(
                name: "\(label) flip: middle chunk's tag", bytes: flip(object, at: l.chunkStart(2) - 1), status: 4,
                phrases: ["payload chunk 1 failed to authenticate"]),
            Case(
                name: "\(label) flip: last chunk", bytes: flip(object, at: l.chunkStart(last) + 7), status: 4,
                phrases: [lastFailed]),
            Case(
                name: "\(label) flip: last chunk's tag", bytes: flip(object, at: object.count - 1), status: 4,
                phrases: [lastFailed]),
            Case(name: "\(label) truncated: empty", bytes: [], status: 4, phrases: ["the file is empty"]),
            Case(
                name: "\(label) truncated: after the version line", bytes: Array(object[..<l.versionEnd]), status: 4,
                phrases: ["the file ends inside the header"]),
            Case(
                name: "\(label) truncated: after the stanza line", bytes: Array(object[..<l.stanzaEnd]), status: 4,
                phrases: ["the file ends inside the header"]),
            Case(
                name: "\(label) truncated: before the MAC line", bytes: Array(object[..<l.macLine]), status: 4,
                phrases: ["the file ends inside the header"]),
            Case(
                name: "\(label) truncated: inside the MAC line", bytes: Array(object[..<(l.headerEnd - 1)]), status: 4,
                phrases: ["the file ends inside the header"]),
            Case(
                name: "\(label) truncated: after the header", bytes: Array(object[..<l.headerEnd]), status: 4,
                phrases: ["the file ends inside the 16-byte payload nonce"]),
            Case(
                name: "\(label) truncated: inside the nonce", bytes: Array(object[..<(l.headerEnd + 9)]), status: 4,
                phrases: ["the file ends inside the 16-byte payload nonce"]),
            Case(
                name: "\(label) truncated: after the nonce", bytes: Array(object[..<l.payloadStart]), status: 4,
                phrases: ["the payload ends without a final chunk (after 0 chunks)"]),
            Case(
                name: "\(label) truncated: after the first chunk", bytes: Array(object[..<l.chunkStart(1)]), status: 4,
                phrases: ["the payload ends without a final chunk (after 1 chunks)"]),
            Case(
                name: "\(label) truncated: after the middle chunk", bytes: Array(object[..<l.chunkStart(2)]),
                status: 4, phrases: ["the payload ends without a final chunk (after 2 chunks)"]),
            Case(
                name: "\(label) truncated: inside a tag", bytes: Array(object[..<(l.chunkStart(1) + 9)]), status: 4,
                phrases: ["the payload ends inside a chunk's 16-byte tag (chunk 1)"]),
            Case(
                name: "\(label) truncated: last byte", bytes: Array(object.dropLast()), status: 4,
                phrases: [lastFailed]),
            Case(
                name: "\(label) extended: one byte", bytes: object + [0], status: 4,
                phrases: [lastIsFull ? "data follows the final chunk (chunk \(last))" : lastFailed]),
            Case(
                name: "\(label) extended: a second copy", bytes: object + object, status: 4,
                phrases: [
                    lastIsFull ? "data follows the final chunk (chunk \(last))" : "payload chunk \(last) failed"
                ]),
            Case(
                name: "\(label) another key", bytes: object, status: 5,
                phrases: ["none of the 1 identities matches any of the 1 stanzas (X25519)"], wrongKey: true),
        ]
    }

    static let plainCases: [Case] = (try? damagedObjects(fixture.get().plainObject, label: "plain")) ?? []
    static let gzipCases: [Case] = (try? damagedObjects(fixture.get().gzipObject, label: "gzip")) ?? []

    /// Runs `archiver decrypt` on `bytes` with the output in a folder of its own, and lists what that folder holds
    /// afterwards.
    static func decrypt(_ bytes: [UInt8], name: String, wrongKey: Bool = false, arguments: [String] = [])
        throws -> (result: CommandResult, left: [String])
    {
        let fixture = try fixture.get()
        let dir = try TemporaryDirectory(prefix: "archiver-hostile")
        let key = try dir.write("key.txt", wrongKey ? fixture.otherIdentity : fixture.identity)
        let input = try dir.write(name, bytes)
        let outFolder = dir.file("out")
        try FileManager.default.createDirectory(at: outFolder, withIntermediateDirectories: true)
        let output = arguments.contains("-o") ? [] : ["-o", outFolder.appendingPathComponent("plain").path]
        let result = try CommandRunner.archiver(["decrypt", "-i", key.path, input.path] + output + arguments)
        return (result, try FileManager.default.contentsOfDirectory(atPath: outFolder.path))
    }

    /// Checks a refusal: the status, the file named, the specific message, and an empty output folder.
    static func expectRefused(_ c: Case, name: String) throws {
        let (result, left) = try decrypt(c.bytes, name: name, wrongKey: c.wrongKey)
        #expect(result.status == c.status, "\(c.name): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains(name), "\(c.name): the message names the file: \(result.stderr)")
        for phrase in c.phrases {
            #expect(result.stderr.contains(phrase), "\(c.name): expected \(phrase) in: \(result.stderr)")
        }
        #expect(left.isEmpty, "\(c.name) left \(left) in the output folder")
    }

    @Test func goodObjectsDecrypt() throws {
        let fixture = try Self.fixture.get()
        try #require(try Layout(fixture.plainObject).chunkCount == 3)
        try #require(try Layout(fixture.gzipObject).chunkCount == 4)
        for (name, object, plain) in [
            ("plain.age", fixture.plainObject, fixture.plain), ("gzip.gz.age", fixture.gzipObject, fixture.gzipPlain),
        ] {
            let (result, left) = try Self.decrypt(object, name: name, arguments: ["-o", "-"])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(result.stdout == plain, "\(name)")
            #expect(left.isEmpty)
        }
    }

    @Test(arguments: plainCases)
    func uncompressedObjectsAreRefused(_ c: Case) throws {
        try Self.expectRefused(c, name: "damaged.age")
    }

    @Test(arguments: gzipCases)
    func gzipObjectsAreRefused(_ c: Case) throws {
        try Self.expectRefused(c, name: "damaged.gz.age")
    }

    /// Damage to the gzip stream inside an authentic payload: the age layer accepts it, the inflater must not.
    static func damagedGzip(_ payload: [UInt8]) -> [(String, [UInt8], String)] {
        [
            ("trailer CRC", flip(payload, at: payload.count - 8), "incorrect data check"),
            ("trailer length", flip(payload, at: payload.count - 1), "incorrect length check"),
            ("deflate data", flip(payload, at: payload.count / 2), "the compressed payload is damaged"),
            ("truncated trailer", Array(payload.dropLast(4)), "the compressed stream is truncated"),
            ("trailing garbage", payload + Array("JUNKJUNK".utf8), "in data after gzip member 1"),
        ]
    }

    @Test func damagedGzipInsideAnAuthenticPayloadIsRefused() throws {
        let fixture = try Self.fixture.get()
        let dir = try TemporaryDirectory(prefix: "archiver-hostile")
        for (what, payload, phrase) in Self.damagedGzip(fixture.gzipPayload) {
            let object = try Fixture.encrypt(payload, level: "0", to: fixture.recipient, in: dir)
            let (result, left) = try Self.decrypt(object, name: "damaged.gz.age")
            #expect(result.status == 4, "\(what): \(result.stderr)")
            #expect(result.stderr.contains("the compressed payload is damaged"), "\(what): \(result.stderr)")
            #expect(result.stderr.contains(phrase), "\(what): \(result.stderr)")
            #expect(left.isEmpty, "\(what) left \(left)")
        }
    }

    @Test func gzipBombStopsAtTheSizeCap() throws {
        let fixture = try Self.fixture.get()
        let dir = try TemporaryDirectory(prefix: "archiver-hostile")
        // 64 MiB of zeros deflate to about 64 KiB; 64 such members make a 4 MiB object that inflates to 4 GiB.
        let member = try CommandRunner.run("/bin/sh", ["-c", "head -c 67108864 /dev/zero | gzip -9 -n"])
        try #require(member.status == 0)
        let object = try Fixture.encrypt(
            Array(repeatElement(member.stdout, count: 64).joined()), level: "0", to: fixture.recipient, in: dir)
        #expect(object.count < 8 << 20)
        let (result, left) = try Self.decrypt(object, name: "bomb.gz.age", arguments: ["--max-size", "16MiB"])
        #expect(result.status == 4, "\(result.stderr)")
        #expect(result.stderr.contains("more than the limit of 16777216 bytes"), "\(result.stderr)")
        #expect(left.isEmpty, "the bomb left \(left)")
        // Streamed to stdout, no more than the cap came out before the refusal.
        let (streamed, _) = try Self.decrypt(object, name: "bomb.gz.age", arguments: ["--max-size", "16MiB", "-o", "-"])
        #expect(streamed.status == 4, "\(streamed.stderr)")
        #expect(streamed.stdout.count <= 16 << 20)
    }

    @Test func sizeCapIsExact() throws {
        let fixture = try Self.fixture.get()
        let size = String(fixture.plain.count)
        let fits = try Self.decrypt(fixture.plainObject, name: "plain.age", arguments: ["--max-size", size])
        #expect(fits.result.status == 0, "\(fits.result.stderr)")
        #expect(fits.left == ["plain"])
        let over = try Self.decrypt(
            fixture.plainObject, name: "plain.age", arguments: ["--max-size", String(fixture.plain.count - 1)])
        #expect(over.result.status == 4, "\(over.result.stderr)")
        #expect(over.left.isEmpty)
        let bad = try Self.decrypt(fixture.plainObject, name: "plain.age", arguments: ["--max-size", "lots"])
        #expect(bad.result.status == 64)
        #expect(bad.result.stderr.contains("--max-size 'lots' is not a size"), "\(bad.result.stderr)")
    }

    /// What a planted object does to `archiver restore`, which knows each object's size and plaintext hash from the
    /// catalog: a damaged object, another authentic object swapped in, a gzip bomb. The file is reported, the run
    /// fails, and the restore folder holds no file and no temporary file.
    @Test(arguments: ["flipped", "truncated", "swapped", "bomb"])
    func restoreRefusesAPlantedObject(_ kind: String) throws {
        let tree = try SourceTree(onlyLarge: 300_000)
        try tree.dir.write("src/big/other.bin", TestBytes.random(250_000, seed: 9))
        let setup = try Setup(tree: tree, compression: "1")
        try setup.run(["init"])
        try setup.run(["backup"])
        let objects = try FileManager.default.subpathsOfDirectory(atPath: tree.dir.file("usb").path)
            .filter { $0.contains("/data/") && $0.hasSuffix(".gz.age") }
            .map { tree.dir.file("usb/\($0)").path }
        try #require(objects.count == 2, "\(objects)")
        let sizes = try objects.map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int ?? 0 }
        // The larger object is video.bin's.
        let (target, other) = sizes[0] > sizes[1] ? (objects[0], objects[1]) : (objects[1], objects[0])
        var stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))
        switch kind {
        case "flipped": stored[stored.count / 2] ^= 1
        case "truncated": stored.removeLast(5000)
        case "swapped": stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: other)))
        default:
            let zeros = try CommandRunner.run("/bin/sh", ["-c", "head -c 67108864 /dev/zero | gzip -9 -n"])
            stored = try Fixture.encrypt(zeros.stdout, level: "0", to: setup.recipient, in: tree.dir)
        }
        try Data(stored).write(to: URL(fileURLWithPath: target))
        let restored = tree.dir.file("restored").path
        let result = try CommandRunner.archiver(["restore", "--to", restored, "--config", setup.config])
        #expect(result.status != 0, "\(kind): \(result.stderr)")
        #expect(result.stderr.contains("video.bin"), "\(kind): the message names the file: \(result.stderr)")
        let left = (try? FileManager.default.subpathsOfDirectory(atPath: restored)) ?? []
        let files = left.filter { path in
            var st = stat()
            return lstat(restored + "/" + path, &st) == 0 && st.st_mode & S_IFMT != S_IFDIR
        }
        // The untouched file restores; the planted one leaves nothing, not even a temporary file.
        #expect(files == ["home/big/other.bin"], "\(kind) left \(files)")
    }

    /// Small files restore several at once (`files_in_flight: 4`): with objects damaged here and there among 300
    /// files in nested folders, exactly the damaged files are reported, in path order, every other file restores
    /// byte for byte with its mode and time, and no temporary file is left anywhere.
    @Test func concurrentRestoreLosesOnlyTheDamagedFiles() throws {
        let tree = try SourceTree(onlyLarge: 10)
        var contents: [String: [UInt8]] = [:]
        for i in 0..<300 {
            let path = "d\(i % 7)/e\(i % 3)/f\(i).txt"
            contents[path] = TestBytes.text(500 + i * 997 % 60_000, seed: UInt64(100 + i))
            try tree.dir.write("src/\(path)", contents[path]!)
            chmod(tree.root.path + "/" + path, mode_t(0o600 + (i % 2) * 0o40))
        }
        let setup = try Setup(tree: tree, compression: "1", extra: "files_in_flight: 4")
        try setup.run(["init"])
        try setup.run(["backup"])
        let usb = tree.dir.file("usb").path
        let objects = try FileManager.default.subpathsOfDirectory(atPath: usb)
            .filter { $0.contains("/data/") && $0.hasSuffix(".age") }.sorted()
        try #require(objects.count == 301, "one object per file")
        // Damage every 37th object; which files they belong to is read back from the failures.
        let damaged = stride(from: 0, to: objects.count, by: 37).map { objects[$0] }
        for object in damaged {
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: usb + "/" + object)))
            bytes[bytes.count - 20] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: usb + "/" + object))
        }
        let restored = tree.dir.file("restored").path
        let result = try CommandRunner.archiver(["restore", "--to", restored, "--config", setup.config])
        #expect(result.status == 3, "a partial restore: \(result.stderr)")
        let failed = result.stderr.split(separator: "\n").filter { $0.hasPrefix("FAILED ") }
            .map { String($0.dropFirst("FAILED home/".count).prefix { $0 != ":" }) }
        #expect(failed.count == damaged.count, "\(result.stderr)")
        #expect(failed == failed.sorted(), "failures are listed in path order")
        var checked = 0
        for (path, bytes) in contents where !failed.contains(path) {
            let out = restored + "/home/" + path
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == bytes, "\(path)")
            var a = stat()
            var b = stat()
            stat(out, &a)
            stat(tree.root.path + "/" + path, &b)
            #expect(a.st_mode == b.st_mode && a.st_mtim.tv_sec == b.st_mtim.tv_sec, "\(path) keeps its mode and time")
            checked += 1
        }
        #expect(checked == 300 - damaged.count + (failed.contains("big/video.bin") ? 1 : 0))
        let left = try FileManager.default.subpathsOfDirectory(atPath: restored)
        #expect(left.filter { $0.contains(".archiver-restore-") }.isEmpty, "temporary files left: \(left)")
        for path in failed { #expect(!FileManager.default.fileExists(atPath: restored + "/home/" + path)) }
    }

    @Test func suiteFoundEveryCase() {
        #expect(Self.plainCases.count == 27)
        #expect(Self.gzipCases.count == 27)
    }
}
