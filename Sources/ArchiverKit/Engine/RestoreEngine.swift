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

    /// Prepares a restore.
    /// - Parameters:
    ///   - catalog: the catalog (possibly a recovered copy).
    ///   - backend: the target holding the objects.
    ///   - repositoryID: the target's repository id.
    ///   - identities: identities for encrypted objects.
    ///   - logger: where to log.
    ///   - temporaryFiles: told of each temporary file as it is created (true) and renamed or removed (false), so an
    ///     interrupt handler can remove it.
    public init(
        catalog: Catalog, backend: any RemoteBackend, repositoryID: String, identities: [any AgeIdentity],
        logger: Logger, temporaryFiles: (@Sendable (String, Bool) -> Void)? = nil
    ) {
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
        for (source, prefix) in selections {
            var matched = 0
            try await catalog.state(repositoryID: repositoryID, asOfRun: run.id, source: source, pathPrefix: prefix)
                .forEach { item in
                    matched += 1
                    try await restoreItem(item, writer: writer, summary: &summary)
                }
            if matched == 0 {
                throw ArchiverError(.usage, "nothing matches '\(source ?? "")\(prefix.map { "/" + BytePath.display($0) } ?? "")' in run \(run.id)")
            }
        }
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
        let relative = [Array(version.source.utf8)] + BytePath.components(version.path)
        let display = "\(version.source)/\(BytePath.display(version.path))"
        do {
            switch version.kind {
            case .dir:
                try writer.directory(relative, mode: version.mode, mtimeNs: version.mtimeNs)
            case .symlink:
                if try writer.symlink(relative, target: version.linkTarget ?? [], uid: version.uid, gid: version.gid) {
                    summary.symlinks += 1
                } else {
                    summary.skippedExisting.append(display)
                }
            case .file:
                let written = try await writer.file(
                    relative, mode: version.mode, mtimeNs: version.mtimeNs, uid: version.uid, gid: version.gid
                ) { sink in
                    guard let content = item.content else { return }
                    let payload = PayloadCompression(catalogName: content.compression)
                    let objects = try item.objects.map { (name: try ObjectName($0.name), plaintextSize: $0.plaintextSize) }
                    try await store.load(
                        objects: objects, payload: payload, encrypted: content.encrypted,
                        plaintextSHA256: content.plaintextSHA256, identities: identities, into: sink)
                }
                if written {
                    summary.files += 1
                    summary.bytes += version.size
                } else {
                    summary.skippedExisting.append(display)
                }
            }
        } catch let error as ArchiverError where [.key, .targetUnavailable, .loginNeeded].contains(error.code) {
            throw error
        } catch {
            let message = (error as? ArchiverError)?.message ?? "\(error)"
            summary.failures.append((display, message))
            logger.error("\(display): \(message)")
        }
    }
}

extension RestorePoint {
    var isLatest: Bool { if case .latest = self { true } else { false } }
}
