import ArchiverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Where a crash trial backs up to.
enum CrashTarget: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, baidu
    var testDescription: String { rawValue }
}

/// The short form of `scripts/crash-trials.sh`: `archiver backup` is killed with SIGKILL at a random moment, the
/// tree changes now and then, and a rerun to completion must leave a repository that restores to the source
/// exactly, a catalog that passes `PRAGMA integrity_check` (also right after each kill), and objects that pass
/// `verify --deep`.
/// Every trial ends in that check, so 10 trials are 10 recoveries.
@Suite("Crash trials: backups killed at random moments recover with nothing lost", .serialized)
struct CrashTrialTests {
    static let trials = 10

    @Test(arguments: CrashTarget.allCases)
    func killedBackupsRecover(_ target: CrashTarget) throws {
        // On Baidu the large file is six 64 KiB slices (segments, which start at 1 MiB, are left to the script:
        // the debug build encodes about 1.5 MB/s, and the whole suite should take under a minute).
        let tree = try SourceTree(onlyLarge: target == .local ? 1 << 20 : 6 * BaiduSetup.sliceSize - 999)
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var random = SeededGenerator(seed: seed)
        let changes = CrashTreeChanges(root: tree.root.path)
        try changes.populate(files: 16, using: &random)
        let repository = try CrashRepository(target, tree: tree)
        try repository.run(["init"])
        // The window the kill is drawn from: the last completing run's duration (a first backup: a guess); a run
        // that ends before its kill replaces it with its own.
        var window = 2.0
        for trial in 1...Self.trials {
            let context = "\(target) trial \(trial), seed \(seed)"
            if trial > 1 { try changes.change(big: random.next() % 2 == 0, using: &random) }
            let killed = try repository.killAtRandom(window: &window, using: &random) {
                try changes.change(big: true, using: &$0)
            }
            #expect(killed, "\(context): every run ended before its kill")
            #expect(try repository.integrity(copy: true) == "ok", "\(context): the catalog right after the kill")
            if random.next() % 3 == 0 { try changes.change(big: random.next() % 2 == 0, using: &random) }
            let start = Date()
            try repository.run(["backup"], context)
            // The run that completes the trial's work is the measure of the next trial's window.
            window = max(0.05, Date().timeIntervalSince(start))
            try repository.check(context)
        }
    }
}

/// A repository for crash trials on the local backend or on the Baidu fake.
struct CrashRepository {
    let setup: Setup
    let baidu: BaiduSetup?
    var catalog: String { setup.tree.dir.file("state/catalog.sqlite").path }

    init(_ target: CrashTarget, tree: SourceTree) throws {
        switch target {
        case .local:
            setup = try Setup(tree: tree)
            baidu = nil
        case .baidu:
            let baidu = try BaiduSetup(tree: tree)
            self.baidu = baidu
            setup = baidu.setup
        }
    }

    /// Runs archiver (with fast Baidu retries), expecting `status`.
    @discardableResult
    func run(_ args: [String], expect status: Int32 = 0, _ comment: String = "") throws -> CommandResult {
        try baidu?.run(args, expect: status, comment) ?? setup.run(args, expect: status, comment)
    }

    /// Starts `archiver backup`, waits a random time below `window` and kills it with SIGKILL. A run that ends
    /// first took less than the delay: its duration becomes the window, `change` gives the next run work, and
    /// the kill is tried again (four attempts in all).
    /// - Returns: whether a kill landed while the backup ran.
    func killAtRandom(
        window: inout Double, using random: inout SeededGenerator, change: (inout SeededGenerator) throws -> Void
    ) throws -> Bool {
        for _ in 0..<4 {
            let delay = Double.random(in: 0..<window, using: &random)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandRunner.archiver)
            process.arguments = ["backup", "--config", setup.config]
            process.environment = ProcessInfo.processInfo.environment.merging(["ARCHIVER_BAIDU_RETRY_SCALE": "0.01"]) {
                $1
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let start = Date()
            try process.run()
            while process.isRunning, Date().timeIntervalSince(start) < delay { usleep(2_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return true
            }
            window = max(0.05, Date().timeIntervalSince(start))
            try change(&random)
        }
        return false
    }

    /// `PRAGMA integrity_check` through the sqlite3 CLI: "ok", or what it found. With `copy`, a copy of the
    /// catalog and its log is checked, so the state a kill left is handed to the rerun untouched.
    func integrity(copy: Bool = false) throws -> String {
        guard CommandRunner.exists("/usr/bin/sqlite3") else {
            return "sqlite3 is not installed: scripts/install-deps.sh installs it"
        }
        var path = catalog
        if copy {
            let scratch = setup.tree.dir.file("catalog-copy")
            try? FileManager.default.removeItem(at: scratch)
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            path = scratch.appendingPathComponent("catalog.sqlite").path
            try FileManager.default.copyItem(atPath: catalog, toPath: path)
            if FileManager.default.fileExists(atPath: catalog + "-wal") {
                try FileManager.default.copyItem(atPath: catalog + "-wal", toPath: path + "-wal")
            }
        }
        let result = try CommandRunner.run("/usr/bin/sqlite3", [path, "PRAGMA integrity_check;"])
        return (result.stdoutText + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The three checks: restore into a fresh folder equals the source, the catalog is intact, and every object
    /// it claims is there and decrypts to its plaintext's SHA-256 (`--deep`; the script also runs `--stored`).
    func check(_ context: String) throws {
        let restored = setup.tree.dir.file("restored").path
        try? FileManager.default.removeItem(atPath: restored)
        try run(["restore", "--to", restored], context)
        try compareTrees(setup.tree.root.path, restored + "/home")
        #expect(try integrity() == "ok", "\(context): the catalog after the rerun")
        try run(["verify", "--deep"], context)
    }
}

/// Makes and changes the small files of a crash trial's tree (the large file is `big/video.bin`).
struct CrashTreeChanges {
    let root: String
    var big: String { root + "/big/video.bin" }

    /// `files` small files in nested folders, every ninth empty, text or random bytes of up to 40 KB.
    func populate(files: Int, using random: inout SeededGenerator) throws {
        for index in 0..<files {
            let depth = Int.random(in: 0...3, using: &random)
            let folder = (0..<depth).map { _ in "d\(Int.random(in: 0...3, using: &random))" }.joined(separator: "/")
            let size = index % 9 == 0 ? 0 : Int.random(in: 1...40_000, using: &random)
            try write(root + "/" + folder + "/f\(index).dat", size: size, using: &random)
        }
    }

    /// Two to four of: append, replace (same size half of the time), truncate to empty, add, delete; with `big`,
    /// a 4 KiB block inside the large file is rewritten in place (its size stays).
    func change(big changeBig: Bool, using random: inout SeededGenerator) throws {
        let files = try FileManager.default.subpathsOfDirectory(atPath: root).map { root + "/" + $0 }
            .filter { !$0.hasPrefix(big) && !isDirectory($0) }.sorted()
        for _ in 0..<Int.random(in: 2...4, using: &random) {
            guard let path = files.randomElement(using: &random), FileManager.default.fileExists(atPath: path) else {
                continue
            }
            switch Int.random(in: 0..<5, using: &random) {
            case 0:
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.seekToEnd()
                try handle.write(contentsOf: TestBytes.text(Int.random(in: 1...3000, using: &random), seed: random.next()))
                try handle.close()
            case 1:
                let same = random.next() % 2 == 0
                let size = same ? try fileSize(path) : Int.random(in: 1...20_000, using: &random)
                try write(path, size: size, using: &random)
            case 2: try write(path, size: 0, using: &random)
            case 3:
                let sibling = (path as NSString).deletingLastPathComponent + "/new-\(random.next() % 1_000_000).dat"
                try write(sibling, size: Int.random(in: 0...20_000, using: &random), using: &random)
            default: try FileManager.default.removeItem(atPath: path)
            }
        }
        if changeBig {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
            let size = try fileSize(big)
            try handle.seek(toOffset: UInt64(Int.random(in: 0...(size - 4096), using: &random)))
            try handle.write(contentsOf: TestBytes.random(4096, seed: random.next()))
            try handle.close()
        }
    }

    private func write(_ path: String, size: Int, using random: inout SeededGenerator) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let bytes = random.next() % 2 == 0 ? TestBytes.text(size, seed: random.next()) : TestBytes.random(size, seed: random.next())
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    private func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    }

    private func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}

/// SplitMix64: a reproducible generator, so a failing trial's seed replays its changes and delays.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
