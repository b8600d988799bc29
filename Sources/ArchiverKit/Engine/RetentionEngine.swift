import Foundation
public import Logging

/// What one retention pass over a target did (or, for a dry run, would do).
public struct ForgetSummary: Sendable {
    /// File versions dropped from the catalog.
    public var versions: Int64 = 0
    /// Contents whose objects were deleted.
    public var contents: Int64 = 0
    /// Objects deleted on the backend.
    public var objects: Int64 = 0
    /// Their stored bytes.
    public var bytesFreed: Int64 = 0
    /// Objects the backend failed to delete (their rows stay; the next pass retries), with the reason.
    public var failures: [(object: String, message: String)] = []
    /// What the selection found, before any delete.
    public var plan = ForgetPlan(versions: 0, contents: 0, objects: 0, bytes: 0)
    /// Seconds the selection took (the catalog work before any backend delete).
    public var selectionSeconds: Double = 0
    /// Seconds the whole pass took.
    public var seconds: Double = 0
}

/// Applies the `keep:` policies of a config to one target: selects in the catalog what the policy drops, deletes
/// the objects no remaining version references, and removes catalog rows only after the backend confirmed.
///
/// The caller holds the catalog's run lock, so no backup adds versions meanwhile.
public struct RetentionEngine: Sendable {
    let config: ArchiverConfig
    let catalog: Catalog
    let backend: any RemoteBackend
    let repositoryID: String
    let logger: Logger

    /// Contents read per page while deleting.
    static let contentPage = 200

    /// Prepares a pass.
    /// - Parameters:
    ///   - config: the policies (`Source.keep`) and the time zone buckets are cut in (`timezone:`).
    ///   - catalog: the catalog, open for writing.
    ///   - backend: the opened target.
    ///   - repositoryID: the target's repository id.
    ///   - logger: where to log.
    public init(
        config: ArchiverConfig, catalog: Catalog, backend: any RemoteBackend, repositoryID: String, logger: Logger
    ) {
        self.config = config
        self.catalog = catalog
        self.backend = backend
        self.repositoryID = repositoryID
        self.logger = logger
    }

    /// Whether any source has a policy that may drop something.
    public static func hasPolicy(_ config: ArchiverConfig) -> Bool {
        config.sources.contains { !$0.keep.keepsEverything }
    }

    /// Runs the pass.
    /// - Parameters:
    ///   - dryRun: select and report only; nothing is deleted.
    ///   - listing: called for each dropped version in a dry run, with whether its content goes too.
    /// - Returns: the summary.
    /// - Throws: `ArchiverError` when the catalog fails, or for errors that stop a run (target gone, login
    ///   needed); a failed delete of one object is reported in the summary instead.
    public func run(dryRun: Bool, listing: ((VersionRecord, Bool) -> Void)? = nil) async throws -> ForgetSummary {
        let started = Date()
        var summary = ForgetSummary()
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = config.scheduleZone().zone
        let buckets = try catalog.runStarts(repositoryID: repositoryID).map {
            RunBuckets(runID: $0.id, date: $0.started, calendar: calendar)
        }
        let policies = config.sources.map { (source: $0.remote, keep: $0.keep) }
        defer { try? catalog.endForget() }
        summary.plan = try catalog.planForget(
            repositoryID: repositoryID, policies: policies, buckets: buckets, now: Catalog.currentTime())
        summary.selectionSeconds = Date().timeIntervalSince(started)
        if dryRun {
            if let listing { try catalog.forEachForgottenVersion(repositoryID: repositoryID, listing) }
            summary.versions = summary.plan.versions
            summary.contents = summary.plan.contents
            summary.objects = summary.plan.objects
            summary.bytesFreed = summary.plan.bytes
            summary.seconds = Date().timeIntervalSince(started)
            return summary
        }
        summary.versions += Int64(try catalog.dropForgottenVersionsKeepingContents())
        var after: Int64 = 0
        while true {
            let page = try catalog.doomedContents(after: after, limit: Self.contentPage)
            // Marked before any delete: should the pass die half way, a backup never deduplicates against a content
            // whose objects are going (and the next pass selects it again and finishes).
            try catalog.markContentsDoomed(page.map(\.id))
            var confirmed: [DoomedContent] = []
            do {
                for content in page {
                    try Task.checkCancellation()
                    if try await deleteObjects(of: content, summary: &summary) { confirmed.append(content) }
                }
            } catch {
                try? record(confirmed, summary: &summary)
                throw error
            }
            try record(confirmed, summary: &summary)
            guard let last = page.last, page.count == Self.contentPage else { break }
            after = last.id
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Deletes one content's objects; false (and the failure reported) when the backend refused one. Its rows then
    /// stay, marked, for the next pass.
    private func deleteObjects(of content: DoomedContent, summary: inout ForgetSummary) async throws -> Bool {
        for object in content.objects {
            do {
                try await backend.delete(try ObjectName(object.name))
            } catch let error as ArchiverError where BackupEngine.stopsTheRun(error) {
                throw error
            } catch {
                let message = (error as? ArchiverError)?.message ?? "\(error)"
                logger.warning("could not delete \(object.name): \(message)")
                summary.failures.append((object.name, message))
                return false
            }
        }
        return true
    }

    /// Removes the rows of contents whose every object the backend confirmed deleted, in one transaction.
    private func record(_ contents: [DoomedContent], summary: inout ForgetSummary) throws {
        guard !contents.isEmpty else { return }
        summary.versions += Int64(try catalog.dropContents(ids: contents.map(\.id)))
        summary.contents += Int64(contents.count)
        for content in contents {
            summary.objects += Int64(content.objects.count)
            summary.bytesFreed += content.objects.reduce(0) { $0 + $1.storedSize }
        }
    }
}
