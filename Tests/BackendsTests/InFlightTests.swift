import ArchiverKit
import ArchiverTestSupport
import Backends
import Foundation
import Logging
import Synchronization
import Testing

/// Many small files in flight: `BackupEngine` stores files of up to 1 MiB with `files_in_flight` tasks and records
/// them in batches. What users depend on: every byte restores, identical files share one content, one bad file
/// does not cost the others, a stopped run's catalog claims only what is stored, and recording costs far fewer
/// catalog transactions than two per file.
@Suite("Files in flight", .serialized)
struct InFlightTests {
    /// A source folder, a catalog and a target in one scratch folder, driven through `BackupEngine` in process.
    struct Rig {
        let scratch: Scratch
        let backend: any RemoteBackend
        let catalog: Catalog
        var config: ArchiverConfig
        let repositoryID = "in-flight-test"
        var source: String { scratch.path + "/src" }

        /// - Parameter spec: the target's spec for a folder path (`local:` by default).
        init(width: Int, spec: (String) -> String = { "local:\($0)" }) async throws {
            scratch = try Scratch()
            Backends.registerAll()
            let target = spec(scratch.path + "/target")
            backend = try BackendRegistry.make(spec: target, context: BackendRegistry.Context(baseDirectory: "/"))
            try await backend.initialize(
                marker: RepositoryMarker(id: repositoryID, created: "2026-11-27T00:00:00Z", probe: nil))
            catalog = try Catalog(path: scratch.path + "/state/catalog.sqlite")
            // Unencrypted (gzip objects): the key plumbing is not what these tests are about.
            config = ArchiverConfig(
                configPath: scratch.path + "/config.yml", targets: [.init(name: "default", spec: target)],
                sources: [.init(local: scratch.path + "/src", remote: "home")], encryption: false)
            config.filesInFlight = width
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        }

        func write(_ relative: String, _ bytes: [UInt8]) throws {
            let url = URL(fileURLWithPath: source + "/" + relative)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }

        func backup(progress: (any BackupProgress)? = nil) async throws -> BackupSummary {
            let lock = try catalog.acquireRunLock(command: "backup")
            defer { lock.release() }
            return try await BackupEngine(
                config: config, catalog: catalog, backend: backend, repositoryID: repositoryID,
                logger: Logger(label: "in-flight-test"), progress: progress
            ).run()
        }

        var restorer: RestoreEngine {
            RestoreEngine(
                catalog: catalog, backend: backend, repositoryID: repositoryID, identities: [],
                logger: Logger(label: "in-flight-test"))
        }

        /// Restores the last completed run and compares every file with the source, byte for byte.
        func restoreAndCompare() async throws {
            let restored = scratch.path + "/restored-\(UUID().uuidString)"
            _ = try await restorer.restore(to: restored, point: .latest, paths: [], overwrite: false)
            let fm = FileManager.default
            let files = try fm.subpathsOfDirectory(atPath: source).filter { !isDirectory(source + "/" + $0) }
            #expect(!files.isEmpty)
            for file in files {
                #expect(
                    fm.contentsEqual(atPath: source + "/" + file, andPath: restored + "/home/" + file),
                    "\(file) restores byte-identical")
            }
            let back = try fm.subpathsOfDirectory(atPath: restored + "/home").filter {
                !isDirectory(restored + "/home/" + $0)
            }
            #expect(Set(back) == Set(files))
        }

        /// Every object the catalog records, counted.
        func objectCount() throws -> Int {
            var count = 0
            try catalog.forEachObject(repositoryID: repositoryID) { _ in count += 1 }
            return count
        }

        /// The distinct contents of the source's files.
        func distinctContents() throws -> Int {
            let fm = FileManager.default
            var contents = Set<Data>()
            for file in try fm.subpathsOfDirectory(atPath: source) where !isDirectory(source + "/" + file) {
                contents.insert(try Data(contentsOf: URL(fileURLWithPath: source + "/" + file)))
            }
            return contents.count
        }

        private func isDirectory(_ path: String) -> Bool {
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
        }
    }

    /// `folders` folders of `perFolder` small files, text or random, every one different.
    static func populate(_ rig: Rig, folders: Int, perFolder: Int) throws {
        for folder in 0..<folders {
            for index in 0..<perFolder {
                let seed = UInt64(folder * 1000 + index + 1)
                let size = 1 + Int(seed &* 7919 % 40_000)
                let bytes = index % 3 == 0 ? TestBytes.random(size, seed: seed) : TestBytes.text(size, seed: seed)
                try rig.write(String(format: "d%02d/f%03d.txt", folder, index), bytes)
            }
        }
    }

    @Test("small files, duplicates and a large file back up with two in flight and restore byte-identical")
    func mixedTreeRestores() async throws {
        let rig = try await Rig(width: 2)
        defer { rig.scratch.remove() }
        try Self.populate(rig, folders: 10, perFolder: 30)
        // Identical files side by side in one folder are in flight at the same moment: they must share a content.
        for index in stride(from: 0, to: 30, by: 5) {
            let original = try Data(contentsOf: URL(fileURLWithPath: rig.source + String(format: "/d03/f%03d.txt", index)))
            try rig.write(String(format: "d03/f%03d.txt.copy", index), [UInt8](original))
            try rig.write(String(format: "d07/copy-of-d03-f%03d.txt", index), [UInt8](original))
        }
        let same = TestBytes.text(12_345, seed: 99)
        for index in 0..<6 { try rig.write("same/s\(index).txt", same) }
        try rig.write("empty.txt", [])
        try rig.write("big/video.bin", TestBytes.random(3 << 20, seed: 5))

        let summary = try await rig.backup()
        let files = 300 + 12 + 6 + 2
        let distinct = try rig.distinctContents()
        #expect(summary.status == .completed, "\(summary.failures)")
        #expect(summary.counts.failed == 0)
        #expect(summary.counts.stored == Int64(distinct))
        #expect(summary.counts.deduplicated == Int64(files - distinct))
        // One object per content: no duplicate stored twice, nothing stored and left unrecorded.
        #expect(try rig.objectCount() == distinct)
        try await rig.restoreAndCompare()

        // Nothing changed: the second run stores nothing.
        let again = try await rig.backup()
        #expect(again.counts.stored == 0 && again.counts.deduplicated == 0 && again.counts.failed == 0)
        #expect(try rig.objectCount() == distinct)
    }

    @Test("recording small files costs a fraction of a catalog transaction each, not two")
    func fewTransactionsPerFile() async throws {
        let rig = try await Rig(width: 2)
        defer { rig.scratch.remove() }
        try Self.populate(rig, folders: 4, perFolder: 100)
        let before = rig.catalog.writeTransactionCount
        let summary = try await rig.backup()
        let transactions = rig.catalog.writeTransactionCount - before
        #expect(summary.counts.stored == 400)
        // Two per file before batching (content, then version); now a batch holds up to 64 files, plus a few
        // transactions per run (the run, its folders).
        #expect(transactions * 4 <= 400, "\(transactions) write transactions for 400 files")
        try await rig.restoreAndCompare()
    }

    @Test("a file the target refuses is reported, and every other file is stored")
    func oneFailureLeavesTheOthers() async throws {
        // The 17th object commit fails: a per-file backend error, not one that stops the run.
        let rig = try await Rig(width: 2) { "mock:\($0)?fail=commit:17" }
        defer { rig.scratch.remove() }
        try Self.populate(rig, folders: 3, perFolder: 20)
        let summary = try await rig.backup()
        #expect(summary.status == .partial)
        #expect(summary.counts.failed == 1)
        #expect(summary.counts.stored == 59)
        #expect(summary.failures.first?.message.contains("injected fault") == true, "\(summary.failures)")
        #expect(try rig.objectCount() == 59)
        // The next run stores the one that failed.
        let again = try await rig.backup()
        #expect(again.status == .completed && again.counts.stored == 1)
        try await rig.restoreAndCompare()
    }

    /// Cancels the run's task once `after` files were reported finished (which happens after they are recorded).
    final class CancelAfter: BackupProgress {
        let after: Int
        let finished = Mutex(0)
        init(after: Int) { self.after = after }
        func storing(path: String, size: Int64) {}
        func finished(path: String, outcome: String) {
            let count = finished.withLock {
                $0 += 1
                return $0
            }
            // Called on the run's own task, as a signal handler's cancellation would reach it.
            if count == after { withUnsafeCurrentTask { $0?.cancel() } }
        }
    }

    @Test("a run stopped mid-way has recorded only files that restore, and the rerun stores only the rest")
    func stoppedRunClaimsOnlyWhatIsStored() async throws {
        let rig = try await Rig(width: 2)
        defer { rig.scratch.remove() }
        try Self.populate(rig, folders: 4, perFolder: 100)
        await #expect(throws: CancellationError.self) { try await rig.backup(progress: CancelAfter(after: 60)) }
        let run = try #require(try rig.catalog.runs(repositoryID: rig.repositoryID, limit: 1).first)
        #expect(run.status == .interrupted)

        // Every file the stopped run recorded restores, byte for byte, from its own version.
        let restored = rig.scratch.path + "/stopped"
        var recorded = 0
        var versions: [(id: Int64, relative: String)] = []
        try rig.catalog.state(repositoryID: rig.repositoryID, asOfRun: run.id, source: nil, pathPrefix: nil).forEach {
            item in
            guard item.version.kind == .file else { return }
            let relative = BytePath.display(BytePath.join(item.version.dir, item.version.name))
            versions.append((item.version.id, relative))
        }
        for (id, relative) in versions {
            _ = try await rig.restorer.restoreVersion(id: id, to: restored, overwrite: true)
            let copy = try Data(contentsOf: URL(fileURLWithPath: restored + "/home/" + relative))
            #expect(copy == (try Data(contentsOf: URL(fileURLWithPath: rig.source + "/" + relative))), "\(relative)")
            recorded += 1
        }
        // The files in flight when it stopped were finished and recorded too; most files were never begun.
        #expect(recorded >= 60 && recorded < 400, "\(recorded) recorded")

        let rerun = try await rig.backup()
        #expect(rerun.status == .completed)
        #expect(rerun.counts.stored == Int64(400 - recorded), "the rerun stores exactly what was not recorded")
        try await rig.restoreAndCompare()
    }

    @Test("a target that wants digests first (Baidu's rules) stores small files in flight and keeps no plans")
    func digestsFirstTarget() async throws {
        let rig = try await Rig(width: 2) { "mock:\($0)?digests_first=1&slice_size=65536&no_empty=1" }
        defer { rig.scratch.remove() }
        try Self.populate(rig, folders: 3, perFolder: 25)
        for index in 0..<4 { try rig.write("same/s\(index).txt", TestBytes.text(5_000, seed: 7)) }
        try rig.write("big/video.bin", TestBytes.random((1 << 20) + 300_000, seed: 8))
        let summary = try await rig.backup()
        #expect(summary.status == .completed, "\(summary.failures)")
        #expect(summary.counts.deduplicated == 3)
        #expect(try rig.catalog.pendingUploadCount(repositoryID: rig.repositoryID) == 0)
        #expect(try rig.objectCount() == rig.distinctContents())
        try await rig.restoreAndCompare()
    }
}
