public import Age
public import Foundation
public import Logging

/// Which state to restore.
public enum RestorePoint: Sendable {
    /// The last completed run.
    case latest
    /// The last run that finished at or before this time.
    case at(Date)
}

/// What a restore did.
public struct RestoreSummary: Sendable {
    /// The run whose state was restored, when restoring a state.
    public var runID: Int64?
    /// Files written.
    public var files: Int
    /// Folders created or updated.
    public var directories: Int
    /// Symlinks created.
    public var symlinks: Int
    /// Plaintext bytes written.
    public var bytes: Int64
    /// Paths left alone because they exist (without `--overwrite`).
    public var skippedExisting: [String]
    /// Paths that failed, with the reason.
    public var failures: [(path: String, message: String)]
}

/// Restores files from a catalog state into a folder, safely: every path component is opened without following
/// links (a planted symlink cannot redirect a write outside the folder), files are written under temporary
/// names, checked chunk by chunk and by plaintext hash, then renamed into place; nothing is overwritten without
/// `overwrite`.
public final class RestoreEngine: Sendable {
    let catalog: Catalog
    let store: ObjectStore
    let repositoryID: String
    let identities: [any AgeIdentity]
    let logger: Logger
    let temporaryFiles: (@Sendable (String, Bool) -> Void)?
    /// Small files restored at once (`files_in_flight:`).
    let filesInFlight: Int
    /// Files up to this size complete in concurrent tasks (the size below which backup stores them so too).
    static let smallFileLimit = BackupEngine.smallFileLimit

    /// Prepares a restore.
    /// - Parameters:
    ///   - catalog: the catalog (possibly a recovered copy).
    ///   - backend: the target holding the objects.
    ///   - repositoryID: the target's repository id.
    ///   - identities: identities for encrypted objects.
    ///   - logger: where to log.
    ///   - temporaryFiles: told of each temporary file as it is created (true) and renamed or removed (false), so an
    ///     interrupt handler can remove it.
    ///   - filesInFlight: how many small files are restored at once; nil picks `ArchiverConfig.defaultFilesInFlight`.
    public init(
        catalog: Catalog, backend: any RemoteBackend, repositoryID: String, identities: [any AgeIdentity],
        logger: Logger, temporaryFiles: (@Sendable (String, Bool) -> Void)? = nil, filesInFlight: Int? = nil
    ) {
        self.filesInFlight = filesInFlight ?? ArchiverConfig.defaultFilesInFlight
        self.catalog = catalog
        self.store = ObjectStore(
            backend: backend, namer: ObjectNamer(repositoryID: repositoryID, capabilities: backend.capabilities),
            recipients: [], compression: .off)
        self.repositoryID = repositoryID
        self.identities = identities
        self.logger = logger
        self.temporaryFiles = temporaryFiles
    }

    /// Restores a state into `destination/<source>/<path>`.
    /// - Parameters:
    ///   - destination: the folder to restore into (created if missing).
    ///   - point: which run's state.
    ///   - paths: `source` or `source/relative/path` selections; empty restores everything.
    ///   - overwrite: replace existing files.
    /// - Throws: `ArchiverError` when no run matches or the destination cannot be used; single files that fail
    ///   are reported in the summary.
    public func restore(to destination: String, point: RestorePoint, paths: [String], overwrite: Bool) async throws
        -> RestoreSummary
    {
        let run: RunRecord?
        switch point {
        case .latest: run = try catalog.lastCompletedRun(repositoryID: repositoryID)
        case .at(let date): run = try catalog.lastCompletedRun(repositoryID: repositoryID, finishedAtOrBefore: date)
        }
        guard let run else {
            throw ArchiverError(.usage, "no completed backup run to restore from" + (point.isLatest ? "" : " at that time"))
        }
        let writer = try TreeWriter(root: destination, overwrite: overwrite, temporaryFiles: temporaryFiles)
        var summary = RestoreSummary(runID: run.id, files: 0, directories: 0, symlinks: 0, bytes: 0, skippedExisting: [], failures: [])
        let selections: [(source: String?, prefix: [UInt8]?)] =
            paths.isEmpty ? [(nil, nil)] : paths.map(Self.selection)
        // Small files complete in tasks, up to `filesInFlight` at once, while this loop goes on creating folders,
        // links and the next files' temporary names (the writer has this one caller). Large files run here, one
        // at a time: their decode already keeps both cores busy.
        try await withThrowingTaskGroup(of: FileOutcome.self) { group in
            var running = 0
            for (source, prefix) in selections {
                var matched = 0
                try await catalog.state(repositoryID: repositoryID, asOfRun: run.id, source: source, pathPrefix: prefix)
                    .forEach { item in
                        matched += 1
                        guard item.version.kind == .file, item.version.size <= Self.smallFileLimit, filesInFlight > 1
                        else {
                            try await restoreItem(item, writer: writer, summary: &summary)
                            return
                        }
                        while running >= filesInFlight, let outcome = try await group.next() {
                            running -= 1
                            summary.add(outcome)
                        }
                        guard let pending = try beginFile(item, writer: writer, summary: &summary) else { return }
                        group.addTask { try await self.complete(pending, item: item) }
                        running += 1
                    }
                if matched == 0 {
                    throw ArchiverError(.usage, "nothing matches '\(source ?? "")\(prefix.map { "/" + BytePath.display($0) } ?? "")' in run \(run.id)")
                }
            }
            while let outcome = try await group.next() { summary.add(outcome) }
        }
        summary.failures.sort { $0.path < $1.path }
        summary.directories += try writer.finishDirectories()
        return summary
    }

    /// Restores one version of one file (`archiver restore --version ID`).
    /// - Parameters:
    ///   - id: the version id from `archiver versions`.
    ///   - destination: the folder to restore into.
    ///   - overwrite: replace an existing file.
    public func restoreVersion(id: Int64, to destination: String, overwrite: Bool) async throws -> RestoreSummary {
        guard let version = try catalog.version(id: id), version.repositoryID == repositoryID else {
            throw ArchiverError(.usage, "there is no version \(id) in this repository; `archiver versions PATH` lists them")
        }
        let content = try version.contentID.flatMap { try catalog.content(id: $0) }
        let objects = try version.contentID.map { try catalog.objects(contentID: $0) } ?? []
        let writer = try TreeWriter(root: destination, overwrite: overwrite, temporaryFiles: temporaryFiles)
        var summary = RestoreSummary(runID: nil, files: 0, directories: 0, symlinks: 0, bytes: 0, skippedExisting: [], failures: [])
        try await restoreItem(RestoreItem(version: version, content: content, objects: objects), writer: writer, summary: &summary)
        return summary
    }

    /// Splits a user's path (`remote` or `remote/path/inside`) into the source and the path within it.
    /// - Parameter path: the path as typed.
    public static func selection(_ path: String) -> (source: String?, prefix: [UInt8]?) {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.firstIndex(of: "/") else { return (trimmed, nil) }
        return (String(trimmed[..<slash]), Array(trimmed[trimmed.index(after: slash)...].utf8))
    }

    private func restoreItem(_ item: RestoreItem, writer: TreeWriter, summary: inout RestoreSummary) async throws {
        let version = item.version
        let relative = Self.relativePath(version)
        do {
            switch version.kind {
            case .dir:
                try writer.directory(relative, mode: version.mode, mtimeNs: version.mtimeNs)
            case .symlink:
                if try writer.symlink(relative, target: version.linkTarget ?? [], uid: version.uid, gid: version.gid) {
                    summary.symlinks += 1
                } else {
                    summary.skippedExisting.append(Self.display(version))
                }
            case .file:
                guard let pending = try beginFile(item, writer: writer, summary: &summary) else { return }
                summary.add(try await complete(pending, item: item))
            }
        } catch {
            summary.add(try outcome(of: error, version: version))
        }
    }

    /// Opens a file's temporary name; nil when it exists and is left alone, or when it cannot be created (recorded
    /// as the file's failure). Throws what stops the whole restore.
    private func beginFile(_ item: RestoreItem, writer: TreeWriter, summary: inout RestoreSummary) throws
        -> PendingFile?
    {
        let version = item.version
        do {
            guard let pending = try writer.begin(
                Self.relativePath(version), mode: version.mode, mtimeNs: version.mtimeNs, uid: version.uid,
                gid: version.gid)
            else {
                summary.skippedExisting.append(Self.display(version))
                return nil
            }
            return pending
        } catch {
            summary.add(try outcome(of: error, version: version))
            return nil
        }
    }

    /// Streams a file's content into its temporary name and renames it into place. Throws only what stops the
    /// whole restore (a wrong key, a target gone, a login needed); anything else is the file's failure.
    private func complete(_ pending: PendingFile, item: RestoreItem) async throws -> FileOutcome {
        do {
            try await pending.complete { sink in
                guard let content = item.content else { return }
                let payload = PayloadCompression(catalogName: content.compression)
                let objects = try item.objects.map { (name: try ObjectName($0.name), plaintextSize: $0.plaintextSize) }
                try await store.load(
                    objects: objects, payload: payload, encrypted: content.encrypted,
                    plaintextSHA256: content.plaintextSHA256, identities: identities, into: sink)
            }
            return .written(bytes: item.version.size)
        } catch {
            return try outcome(of: error, version: item.version)
        }
    }

    /// A file's error as its outcome (logged), or rethrown when it stops the restore.
    private func outcome(of error: any Error, version: VersionRecord) throws -> FileOutcome {
        if let error = error as? ArchiverError, [.key, .targetUnavailable, .loginNeeded].contains(error.code) {
            throw error
        }
        let message = (error as? ArchiverError)?.message ?? "\(error)"
        logger.error("\(Self.display(version)): \(message)")
        return .failed(path: Self.display(version), message: message)
    }

    private static func relativePath(_ version: VersionRecord) -> [[UInt8]] {
        [Array(version.source.utf8)] + BytePath.components(version.path)
    }

    private static func display(_ version: VersionRecord) -> String {
        "\(version.source)/\(BytePath.display(version.path))"
    }
}

/// How one file's restore ended.
enum FileOutcome: Sendable {
    case written(bytes: Int64)
    case failed(path: String, message: String)
}

extension RestoreSummary {
    mutating func add(_ outcome: FileOutcome) {
        switch outcome {
        case .written(let bytes):
            files += 1
            self.bytes += bytes
        case .failed(let path, let message):
            failures.append((path, message))
        }
    }
}

extension RestorePoint {
    var isLatest: Bool { if case .latest = self { true } else { false } }
}
