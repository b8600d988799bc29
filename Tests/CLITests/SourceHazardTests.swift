import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A source tree with every hazard a NAS share has at once: none stops the run, each is reported, everything that
/// is a file, folder or symlink comes back; and a restore into a folder with planted symlinks writes nothing
/// outside it.
@Suite("Source-tree hazards, end to end")
struct SourceHazardTests {
    /// 120 levels of 40-byte names: about 4900 bytes, past PATH_MAX (4096), so only descriptor walks reach the leaf.
    static let depth = 120

    static func level(_ index: Int) -> String {
        "level-" + String(format: "%03d", index) + String(repeating: "x", count: 31)
    }

    /// Makes the deep chain under `root` with openat, since the full path is too long for path calls.
    static func makeDeepTree(under root: String, leaf: [UInt8]) throws {
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        for index in 0..<depth {
            try #require(mkdirat(fd, level(index), 0o755) == 0 || errno == EEXIST)
            let next = openat(fd, level(index), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            close(fd)
            try #require(next >= 0)
            fd = next
        }
        let file = openat(fd, "leaf.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(file >= 0)
        _ = leaf.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        close(file)
        close(fd)
    }

    /// Reads the deep leaf back through descriptors, or nil.
    static func readDeepLeaf(under root: String) -> [UInt8]? {
        var fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        for index in 0..<depth {
            let next = openat(fd, level(index), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            guard next >= 0 else { return nil }
            fd = next
        }
        defer { close(fd) }
        let file = openat(fd, "leaf.txt", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        return n >= 0 ? Array(buffer[0..<n]) : nil
    }

    @Test func aTreeFullOfHazardsIsBackedUpAndEachHazardReported() throws {
        let tree = try SourceTree(largeSize: 50_000)
        let root = tree.root.path
        // Symlink loops and a link pointing outside the tree: stored as links, never followed.
        symlink("loop-b", root + "/loop-a")
        symlink("loop-a", root + "/loop-b")
        symlink("/etc/passwd", root + "/outside-link")
        symlink("dir-loop", root + "/docs/dir-loop")
        // A FIFO (a reader would block forever) and, when permitted, a device file.
        #expect(mkfifo(root + "/pipe", 0o644) == 0)
        let device = mknod(root + "/null-device", S_IFCHR | 0o644, dev_t(1 << 8 | 3)) == 0  // 1:3, as /dev/null
        // Names: a newline, control bytes, 255 bytes (the longest a name can be).
        try tree.dir.write("src/odd/line\nbreak.txt", Array("newline".utf8))
        try tree.dir.write("src/odd/tab\tand\u{1}control.txt", Array("control".utf8))
        let longName = String(repeating: "n", count: 251) + ".txt"
        try tree.dir.write("src/odd/" + longName, Array("long name".utf8))
        try Self.makeDeepTree(under: root, leaf: Array("at the bottom".utf8))

        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        let result = try setup.run(["backup", "--json"])
        let summaryLine = try #require(result.stdoutText.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(summaryLine.utf8)) as? [String: Any])
        #expect(summary["status"] as? String == "completed")
        let skipped = (summary["skipped"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(skipped.contains("home/pipe"), "the FIFO is reported: \(skipped)")
        if device { #expect(skipped.contains("home/null-device"), "the device is reported: \(skipped)") }

        let restored = tree.dir.file("restored").path
        try setup.run(["restore", "--to", restored])
        let back = restored + "/home"
        #expect(Self.readDeepLeaf(under: back) == Array("at the bottom".utf8), "the leaf past PATH_MAX came back")
        #expect(try String(contentsOfFile: back + "/odd/line\nbreak.txt", encoding: .utf8) == "newline")
        #expect(try String(contentsOfFile: back + "/odd/" + longName, encoding: .utf8) == "long name")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: back + "/loop-a") == "loop-b")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: back + "/outside-link") == "/etc/passwd")
        #expect(!FileManager.default.fileExists(atPath: back + "/pipe"))
        // Everything but the skipped entries is identical; the deep chain, checked above, is beyond FileManager's
        // reach, so it goes first (GNU rm walks by descriptors).
        for tree in [root, back] {
            let rm = try CommandRunner.run("/bin/rm", ["-rf", tree + "/" + Self.level(0)])
            #expect(rm.status == 0, "\(rm.stderr)")
        }
        try compareTrees(root, back, ignoring: ["pipe", "null-device"])
    }

    @Test func aRestoreIntoAFolderWithPlantedSymlinksWritesNothingOutsideIt() throws {
        let tree = try SourceTree(largeSize: 20_000)
        let setup = try Setup(tree: tree)
        try setup.run(["init"])
        try setup.run(["backup"])
        // Someone who can write into the destination plants links where the restore will write.
        let outside = tree.dir.file("outside").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let destination = tree.dir.file("restore-here").path
        try FileManager.default.createDirectory(atPath: destination + "/home", withIntermediateDirectories: true)
        symlink(outside, destination + "/home/docs")  // a folder the restore descends into
        symlink(outside + "/readme-target", destination + "/home/.hidden")  // a file the restore writes
        let result = try CommandRunner.archiver(["restore", "--to", destination, "--overwrite", "--config", setup.config])
        #expect(result.status != 0, "the planted links are reported: \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "nothing was written outside")
        // The links themselves are left as they were, not followed and not replaced by a write through them.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: destination + "/home/docs") == outside)
        // Everything not behind a planted link was restored.
        #expect(FileManager.default.fileExists(atPath: destination + "/home/big/video.bin"))
    }
}
