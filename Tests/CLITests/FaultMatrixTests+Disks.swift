import ArchiverTestSupport
import Foundation
import Testing

/// Full disks, for real: a small tmpfs under the local target, and separately under the catalog.
extension FaultMatrixTests {
    @Test func aFullTargetDiskStopsTheRunWithStatus8AndTheNextRunCatchesUp() throws {
        let tree = try SourceTree(largeSize: 3 << 20)
        let setup = try Setup(tree: tree)
        guard let disk = try SmallDisk.mount(at: tree.dir.file("usb").path, size: "1m") else { return }
        defer { disk.unmount() }
        try setup.run(["init"])
        let full = try setup.run(["backup"], expect: 8)
        #expect(full.stderr.contains("full") && full.stderr.contains(disk.path), "\(full.stderr)")
        // What the catalog recorded before the disk filled is on it, whole.
        try setup.run(["verify", "--stored"])
        try disk.resize("64m")
        try Self.recovers({ try setup.run($0, expect: $1) }) {
            try compareTrees(tree.root.path, try restore(setup))
        }
    }

    @Test func aFullCatalogDiskStopsTheRunWithStatus8AndTheNextRunCatchesUp() throws {
        let tree = try SourceTree(largeSize: 10_000)
        for index in 0..<150 {
            try tree.dir.write("src/many/file-\(index).txt", TestBytes.text(2_000 + index, seed: UInt64(index)))
        }
        let setup = try Setup(tree: tree)
        guard let disk = try SmallDisk.mount(at: tree.dir.file("state").path, size: "16m") else { return }
        defer { disk.unmount() }
        try setup.run(["init"])
        // 16 MiB leaves room for SQLite's log (about 4 MiB before it checkpoints) once the filler is gone.
        try disk.fill(leaving: 32 * 1024)
        let full = try setup.run(["backup"], expect: 8)
        #expect(full.stderr.contains("the disk holding the catalog is full"), "\(full.stderr)")
        try disk.drain()
        let check = try CommandRunner.run("/usr/bin/sqlite3", [disk.path + "/catalog.sqlite", "PRAGMA integrity_check;"])
        #expect(check.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "ok", "\(check.stdoutText) \(check.stderr)")
        try setup.run(["verify", "--stored"])
        try Self.recovers({ try setup.run($0, expect: $1) }) {
            try compareTrees(tree.root.path, try restore(setup))
        }
    }
}

/// Restores the last run into a fresh folder and returns where the source's `home` landed.
func restore(_ setup: Setup) throws -> String {
    let out = setup.tree.dir.file("restored-\(UUID().uuidString)").path
    try setup.run(["restore", "--to", out])
    return out + "/home"
}
