import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Setup {
    /// Rewrites the config with a `targets:` mapping instead of `backend:`.
    func writeTargets(_ targets: [(name: String, spec: String)], extra: String = "") throws {
        let list = targets.map { "  \($0.name): \"\($0.spec)\"" }.joined(separator: "\n")
        let text = """
            catalog: \(tree.dir.file("state/catalog.sqlite").path)
            targets:
            \(list)
            recipients: [\(recipient)]
            identity: \(key)
            sources:
              - local: \(tree.root.path)
                remote: home
            \(extra)
            """
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }
}

/// A small tree: a few text files in two folders, an empty file, a symlink.
func smallTree() throws -> SourceTree {
    let tree = try SourceTree(onlyLarge: 300_000)
    try tree.dir.write("src/docs/a.txt", TestBytes.text(5_000, seed: 1))
    try tree.dir.write("src/docs/b.txt", TestBytes.text(7_000, seed: 2))
    try tree.dir.write("src/docs/same-as-a.txt", TestBytes.text(5_000, seed: 1))
    try tree.dir.write("src/empty.txt", [])
    try FileManager.default.createSymbolicLink(atPath: tree.root.path + "/docs/link", withDestinationPath: "a.txt")
    return tree
}

/// A setup with two local targets, folders created and initialised.
func twoLocalTargets(_ tree: SourceTree, first: String, second: String) throws -> (
    setup: Setup, paths: [String: String]
) {
    let setup = try Setup(tree: tree)
    var paths: [String: String] = [:]
    for name in [first, second] {
        paths[name] = tree.dir.file(name == "usb" ? "usbdisk" : name).path
        try FileManager.default.createDirectory(atPath: paths[name]!, withIntermediateDirectories: true)
    }
    try setup.writeTargets([(first, "local:\(paths[first]!)"), (second, "local:\(paths[second]!)")])
    try setup.run(["init"])
    return (setup, paths)
}

@Suite(.serialized) struct TargetsTests {
    @Test func anAbsentTargetIsSkippedWithANoticeAndCaughtUpNextTime() throws {
        let tree = try smallTree()
        let (setup, paths) = try twoLocalTargets(tree, first: "disk", second: "usb")
        let usb = paths["usb"]!
        try setup.run(["backup"])
        let status = lastJSON(try setup.run(["status", "--json"]))
        let copies = status["copies"] as? [String: Any]
        #expect(copies?["files_below"] as? Int == 0, "\(status)")

        // The USB disk is unplugged: the backup goes to the other target and exits 0 with a notice.
        try FileManager.default.moveItem(atPath: usb, toPath: usb + "-unplugged")
        try tree.dir.write("src/docs/a.txt", TestBytes.text(6_000, seed: 9))
        try tree.dir.write("src/docs/new.txt", Array("new".utf8))
        let skipped = try setup.run(["backup"])
        #expect(skipped.stderr.contains("skipping target usb"), "\(skipped.stderr)")
        let behind = try setup.run(["status"])
        #expect(behind.stdoutText.contains("missing 2 files"), "\(behind.stdoutText)")
        #expect(
            behind.stdoutText.contains("2 files") && behind.stdoutText.contains("fewer than 2 copies"),
            "\(behind.stdoutText)")
        let behindJSON = lastJSON(try setup.run(["status", "--json"]))
        let targets = behindJSON["targets"] as? [[String: Any]] ?? []
        let usbMissing = targets.first { $0["target"] as? String == "usb" }?["missing"] as? [String: Any]
        #expect(usbMissing?["files"] as? Int == 2, "\(behindJSON)")
        #expect((usbMissing?["sample"] as? [String])?.contains("home/docs/new.txt") == true)
        let diskMissing = targets.first { $0["target"] as? String == "disk" }?["missing"] as? [String: Any]
        #expect(diskMissing?["files"] as? Int == 0, "the newer target is not missing the older a.txt")

        // Plugged in again: the next backup catches it up.
        try FileManager.default.moveItem(atPath: usb + "-unplugged", toPath: usb)
        try setup.run(["backup"])
        let caughtUp = lastJSON(try setup.run(["status", "--json"]))
        #expect((caughtUp["copies"] as? [String: Any])?["files_below"] as? Int == 0, "\(caughtUp)")
        for target in ["disk", "usb"] {
            let out = tree.dir.file("restored-\(target)").path
            try setup.run(["restore", "--target", target, "--to", out])
            try compareTrees(tree.root.path, out + "/home")
        }
    }

    @Test func copyBetweenLocalTargetsSeedsTheOtherAndRestoresFromEither() throws {
        let tree = try smallTree()
        let (setup, paths) = try twoLocalTargets(tree, first: "usb", second: "disk")
        let (disk, usb) = (paths["disk"]!, paths["usb"]!)
        try setup.run(["backup", "--target", "usb"])
        // Exit 1: disk never ran.
        let before = lastJSON(try setup.run(["status", "--json"], expect: 1))
        let diskBefore = (before["targets"] as? [[String: Any]])?.first { $0["target"] as? String == "disk" }
        #expect((diskBefore?["missing"] as? [String: Any])?["files"] as? Int == 5, "\(before)")

        let copied = lastJSON(try setup.run(["copy", "--from", "usb", "--to", "disk", "--json"]))
        // a.txt and same-as-a.txt share one content: four objects for five files (the empty file is encrypted too).
        #expect(copied["objects"] as? Int == storedObjects(usb).count, "\(copied)")
        #expect(copied["reused"] as? Int == 1, "\(copied)")
        #expect(storedObjects(disk).count == storedObjects(usb).count)
        let after = lastJSON(try setup.run(["status", "--json"]))
        #expect((after["copies"] as? [String: Any])?["files_below"] as? Int == 0, "\(after)")
        for target in ["disk", "usb"] {
            let out = tree.dir.file("restored-\(target)").path
            try setup.run(["restore", "--target", target, "--to", out])
            try compareTrees(tree.root.path, out + "/home")
        }
        try setup.run(["verify", "--stored", "--target", "disk"])

        // The seeded target needs no upload: its next backup finds every file unchanged.
        Thread.sleep(forTimeInterval: 1.1)
        let backup = lastJSON(try setup.run(["backup", "--target", "disk", "--json"]))
        #expect(backup["stored"] as? Int == 0, "\(backup)")

        // A second copy sends nothing; after a change on usb, only the changed file goes.
        #expect(lastJSON(try setup.run(["copy", "--from", "usb", "--to", "disk", "--json"]))["objects"] as? Int == 0)
        try tree.dir.write("src/docs/b.txt", TestBytes.text(8_000, seed: 3))
        try FileManager.default.removeItem(atPath: tree.root.path + "/docs/a.txt")
        try setup.run(["backup", "--target", "usb"])
        let again = lastJSON(try setup.run(["copy", "--from", "usb", "--to", "disk", "--json"]))
        #expect(again["objects"] as? Int == 1 && again["ended"] as? Int == 1, "\(again)")
        let out = tree.dir.file("restored-again").path
        try setup.run(["restore", "--target", "disk", "--to", out])
        try compareTrees(tree.root.path, out + "/home")
    }

    @Test func copyToAMockWithBaiduRulesAnnouncesEveryDigestFirst() throws {
        let tree = try smallTree()
        let setup = try Setup(tree: tree)
        let usb = tree.dir.file("usbdisk").path
        let mock = tree.dir.file("mock").path
        try FileManager.default.createDirectory(atPath: usb, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mock, withIntermediateDirectories: true)
        // The mock checks each upload against the digests announced before it, as Baidu does.
        try setup.writeTargets([
            ("usb", "local:\(usb)"), ("m", "mock:\(mock)?digests_first=1&slice_size=65536&no_empty=1"),
        ])
        try setup.run(["init"])
        try setup.run(["backup", "--target", "usb"])
        let copied = lastJSON(try setup.run(["copy", "--from", "usb", "--to", "m", "--json"]))
        #expect(copied["status"] as? String == "completed", "\(copied)")
        #expect(storedObjects(mock).count == storedObjects(usb).count)
        let out = tree.dir.file("restored-mock").path
        try setup.run(["restore", "--target", "m", "--to", out])
        try compareTrees(tree.root.path, out + "/home")
    }

    @Test func aTamperedSourceObjectIsRefused() throws {
        let tree = try SourceTree(onlyLarge: 50_000)
        let (setup, paths) = try twoLocalTargets(tree, first: "usb", second: "disk")
        let (disk, usb) = (paths["disk"]!, paths["usb"]!)
        try setup.run(["backup", "--target", "usb"])
        let object = try #require(storedObjects(usb).first)
        let handle = try #require(FileHandle(forUpdatingAtPath: usb + "/" + object))
        try handle.seek(toOffset: 1_000)
        let byte = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: 1_000)
        try handle.write(contentsOf: Data([byte[0] ^ 0xFF]))
        try handle.close()
        let refused = try setup.run(["copy", "--from", "usb", "--to", "disk"], expect: 3)
        #expect(refused.stderr.contains("SHA-256"), "\(refused.stderr)")
        #expect(storedObjects(disk).isEmpty)
    }

    @Test func copyFromADiskToBaiduHashesFirstResumesAndRestores() throws {
        let slices = 24
        let tree = try SourceTree(onlyLarge: slices * BaiduSetup.sliceSize - 100)
        // Copied before the large file (state order: folder `a` before `big`), so it lands before the kill.
        try tree.dir.write("src/a/first.txt", TestBytes.text(5_000, seed: 1))
        let baidu = try BaiduSetup(tree: tree, compression: "0")
        let usb = tree.dir.file("usbdisk").path
        try FileManager.default.createDirectory(atPath: usb, withIntermediateDirectories: true)
        let block = """
            compression: 0
            baidu:
              app_name: e2bdy
              app_key: test-app-key
              secret_key: test-secret-key
              token_file: \(baidu.tokenFile)
              upload_concurrency: 2
              slice_size: \(BaiduSetup.sliceSize)
              endpoints:
                oauth: \(baidu.fake.url)
                api: \(baidu.fake.url)
                upload: \(baidu.fake.url)
            """
        try baidu.setup.writeTargets([("usb", "local:\(usb)"), ("cloud", "baidu:")], extra: block)
        try baidu.run(["init"])
        try baidu.run(["backup", "--target", "usb"])

        // Kill the copy while the large object's slices go up; the rerun skips what landed and finishes.
        _ = try baidu.fake.control("faults", ["endpoint": "superfile2", "error": "slow:60", "count": 1000])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.archiver)
        process.arguments = ["copy", "--from", "usb", "--to", "cloud", "--config", baidu.config]
        process.environment = ProcessInfo.processInfo.environment.merging(["ARCHIVER_BAIDU_RETRY_SCALE": "0.01"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try baidu.kill(process, when: "superfile2", reaches: 8)
        _ = try baidu.fake.control("clear-faults", [:])
        let copied = lastJSON(try baidu.run(["copy", "--from", "usb", "--to", "cloud", "--json"]))
        #expect(copied["status"] as? String == "completed", "\(copied)")
        #expect(
            copied["unchanged"] as? Int == 1 && copied["copied"] as? Int == 1,
            "first.txt landed before the kill: \(copied)")
        // Every object once on the fake, under the cloud repository's names.
        #expect(try fakeObjects(baidu.fake).count == storedObjects(usb).count)

        let out = tree.dir.file("restored-cloud").path
        try baidu.run(["restore", "--target", "cloud", "--to", out])
        try compareTrees(tree.root.path, out + "/home")
        try baidu.run(["verify", "--stored", "--target", "cloud"])
        // Seeded: a backup to the cloud uploads nothing.
        Thread.sleep(forTimeInterval: 1.1)
        try baidu.fake.control("reset-stats", [:])
        let backup = lastJSON(try baidu.run(["backup", "--target", "cloud", "--json"]))
        #expect(backup["stored"] as? Int == 0, "\(backup)")
        let usbOut = tree.dir.file("restored-usb").path
        try baidu.run(["restore", "--target", "usb", "--to", usbOut])
        try compareTrees(tree.root.path, usbOut + "/home")
    }
}
