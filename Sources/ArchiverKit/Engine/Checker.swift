public import Foundation

/// One problem `archiver check` found, and what was done about it.
public struct CheckFinding: Sendable, Equatable {
    /// The kinds of findings.
    public enum Kind: String, Sendable, CaseIterable {
        /// An object the catalog records as stored is absent from the backend or has another size.
        case missing
        /// An object in the repository's folder that the catalog does not record and no upload plan names.
        case unreferenced
        /// An upload plan (a hashes-first upload a run began and did not record), with its object if it landed.
        case unfinished
        /// A missing object already recorded as such that no current file uses: only past versions lost it, and
        /// nothing can bring it back. Reported, not counted as a problem left.
        case lost
    }

    /// What was done, or stands done, about a finding.
    public enum Action: String, Sendable {
        /// Its object is marked missing; the next backup stores the current files that use it again.
        case markedForReupload = "marked for re-upload"
        /// Its object is marked missing; no current file uses it, so nothing is stored again.
        case recordedLost = "recorded as lost"
        /// The landed object of an unfinished upload is recorded as stored.
        case adopted
        /// An unreferenced object was left in place (deleting needs `--delete-unreferenced`).
        case kept
    }

    /// The kind.
    public var kind: Kind
    /// The object's name.
    public var object: String
    /// Its size: as listed (unreferenced), as recorded (missing, lost) or as planned (unfinished).
    public var bytes: Int64
    /// What is wrong, for people.
    public var detail: String
    /// A file it belongs to (`source/path`), when known.
    public var file: String?
    /// For unfinished uploads: seconds since the plan was last written.
    public var age: TimeInterval?
    /// What was done about it, if anything.
    public var action: Action?

    /// Whether it still needs something done (a backup, a repair) once this check is over.
    public var remains: Bool {
        kind != .lost && action != .adopted && action != .recordedLost
    }
}

/// What `archiver check` found: counts and bytes of every kind, and the first findings of each.
public struct CheckReport: Sendable {
    /// Recorded objects found on the backend with their recorded size.
    public var intact = 0
    /// Findings of each kind.
    public var counts: [CheckFinding.Kind: Int] = [:]
    /// Their bytes.
    public var bytes: [CheckFinding.Kind: Int64] = [:]
    /// The first `Checker.sampleSize` findings of each kind, in the order found.
    public var samples: [CheckFinding] = []
    /// Findings that still need something done.
    public var remaining = 0
    /// Objects adopted, missing objects marked.
    public var adopted = 0
    /// Missing objects whose files the next backup stores again.
    public var markedForReupload = 0
    /// Unreferenced objects deleted, and their bytes.
    public var deleted = 0
    /// Bytes of the deleted objects.
    public var deletedBytes: Int64 = 0

    /// True when nothing is left to do.
    public var isClean: Bool { remaining == 0 }

    mutating func add(_ finding: CheckFinding, sampleSize: Int) {
        let count = counts[finding.kind, default: 0]
        if count < sampleSize { samples.append(finding) }
        counts[finding.kind] = count + 1
        bytes[finding.kind, default: 0] += finding.bytes
        if finding.remains { remaining += 1 }
        if finding.action == .adopted { adopted += 1 }
        if finding.action == .markedForReupload { markedForReupload += 1 }
    }
}

/// Reconciles the catalog with the backend for one repository: recorded objects that are missing, objects nobody
/// records, and uploads left unfinished.
///
/// Read-only unless asked to repair. A repair never deletes unless `deleteUnreferenced` is called: it marks
/// missing objects (as `verify --stored` marks damaged ones, so the next backup stores the files again) and
/// records the landed object of an unfinished upload whose name, size and SHA-256 match its plan.
///
/// The backend's listing of `<id>/` is merged with the catalog's objects in name order a page at a time
/// (`StoredObjectWalk`, shared with `verify`); what the merge finds is looked up in the catalog in batches.
/// Only names under `<id>/data/` and `<id>/files/` can be unreferenced: the marker, the catalog copies and other
/// repositories' folders are never reported or touched.
public struct Checker: Sendable {
    let catalog: Catalog
    let backend: any RemoteBackend
    let repositoryID: String
    let walk: StoredObjectWalk
    let namer: ObjectNamer

    /// Findings kept in the report per kind (all of them still reach `onFinding`).
    public var sampleSize = 10
    /// Objects looked up in the catalog at once.
    static let batchSize = 500

    /// Prepares a check of one repository.
    /// - Parameters:
    ///   - catalog: the catalog; opened read-only unless repairing.
    ///   - backend: the opened target.
    ///   - repositoryID: its repository id (from its marker).
    public init(catalog: Catalog, backend: any RemoteBackend, repositoryID: String) {
        self.catalog = catalog
        self.backend = backend
        self.repositoryID = repositoryID
        self.walk = StoredObjectWalk(catalog: catalog, backend: backend, repositoryID: repositoryID)
        self.namer = ObjectNamer(repositoryID: repositoryID, capabilities: backend.capabilities)
    }

    /// Looks, and with `repair` marks missing objects and adopts landed uploads.
    /// - Parameters:
    ///   - repair: mark and adopt (needs a writable catalog; hold the run lock so no backup runs meanwhile).
    ///   - onFinding: called with every finding as it is found, so a caller can list them all without the
    ///     report holding them.
    /// - Returns: counts, bytes, the first findings of each kind.
    /// - Throws: `ArchiverError` from the backend (listing, reading) or the catalog.
    public func check(repair: Bool, onFinding: @escaping (CheckFinding) async throws -> Void = { _ in }) async throws
        -> CheckReport
    {
        var pass = CheckPass(checker: self, repair: repair, onFinding: onFinding)
        try await walk.run { step in try await pass.take(step) }
        try await pass.flushMissing()
        try await pass.flushUnrecorded()
        try await pass.reportPlansNotLanded()
        return pass.report
    }

    /// Deletes the objects that are still unreferenced, calling `onDeleting` with each name and size before it is
    /// deleted. Objects an upload plan names are kept. Call it after `check`, once its findings were shown.
    /// - Parameters:
    ///   - report: the check's report; its deleted counts and the problems left are updated.
    ///   - onDeleting: called before each deletion.
    /// Refuses when the catalog looks like the wrong one for this repository: it knows no run of it, or the
    /// unreferenced objects outnumber the recorded ones. Backups never delete objects, so strays come only from
    /// killed runs and are few; a fresh or foreign catalog would make every object look unreferenced.
    /// - Throws: `ArchiverError(.catalog)` when refusing; `ArchiverError` from the backend or the catalog; objects
    ///   deleted so far stay deleted.
    public func deleteUnreferenced(report: inout CheckReport, onDeleting: (String, Int64) async throws -> Void)
        async throws
    {
        let recorded = report.intact + report.counts[.missing, default: 0] + report.counts[.lost, default: 0]
        let unreferenced = report.counts[.unreferenced, default: 0]
        if try catalog.runs(repositoryID: repositoryID, limit: 1).isEmpty || unreferenced > recorded {
            throw ArchiverError(
                .catalog,
                "refusing to delete \(unreferenced) unreferenced objects: the catalog records \(recorded) objects of "
                    + "repository \(repositoryID); it may not be this repository's catalog (restore it from a "
                    + "catalog copy first). Nothing was deleted.",
                subject: catalog.path)
        }
        var batch: [ObjectInfo] = []
        var deleted = 0
        var deletedBytes: Int64 = 0
        func flush() async throws {
            defer { batch.removeAll(keepingCapacity: true) }
            let planned = Set(
                try catalog.unfinishedUploads(repositoryID: repositoryID, objectNames: batch.map(\.name.value))
                    .map(\.objectName))
            for info in batch where !planned.contains(info.name.value) {
                try await onDeleting(info.name.value, info.size)
                try await backend.delete(info.name)
                deleted += 1
                deletedBytes += info.size
            }
        }
        // Names are deleted behind the listing's cursor, which every backend keeps by name, so no page shifts.
        try await walk.run { step in
            guard case .unrecorded(let info) = step, namer.isObjectArea(info.name.value) else { return }
            batch.append(info)
            if batch.count >= Self.batchSize { try await flush() }
        }
        try await flush()
        report.deleted += deleted
        report.deletedBytes += deletedBytes
        report.remaining -= min(deleted, report.counts[.unreferenced, default: 0])
    }
}

/// The state of one check: the report so far and the batches waiting for a catalog lookup.
private struct CheckPass {
    let checker: Checker
    let repair: Bool
    let onFinding: (CheckFinding) async throws -> Void
    var report = CheckReport()
    var missing: [(object: ObjectRecord, listed: ObjectInfo?)] = []
    var unrecorded: [ObjectInfo] = []
    /// Plans whose object was listed (few: one per file a run left unfinished).
    var landedPlans: Set<String> = []
    let now = Date()

    var catalog: Catalog { checker.catalog }
    var repositoryID: String { checker.repositoryID }

    mutating func take(_ step: StoredObjectWalk.Step) async throws {
        switch step {
        case .recorded(let object, let listed):
            if let listed, listed.size == object.storedSize {
                report.intact += 1
                return
            }
            missing.append((object, listed))
            if missing.count >= Checker.batchSize { try await flushMissing() }
        case .unrecorded(let info):
            guard checker.namer.isObjectArea(info.name.value) else { return }
            unrecorded.append(info)
            if unrecorded.count >= Checker.batchSize { try await flushUnrecorded() }
        }
    }

    mutating func emit(_ finding: CheckFinding) async throws {
        report.add(finding, sampleSize: checker.sampleSize)
        try await onFinding(finding)
    }

    /// Reports a batch of missing objects with the files they cost, marking them first when repairing.
    mutating func flushMissing() async throws {
        guard !missing.isEmpty else { return }
        defer { missing.removeAll(keepingCapacity: true) }
        let uses = try catalog.contentUse(repositoryID: repositoryID, contentIDs: missing.map(\.object.contentID))
        var findings: [CheckFinding] = []
        var toMark: [Int64] = []
        for (object, listed) in missing {
            let use = uses[object.contentID] ?? ContentUse(current: 0, past: 0, example: nil)
            let state =
                listed.map { "is \($0.size) bytes on the backend, the catalog says \(object.storedSize)" }
                ?? "is absent from the backend"
            var finding = CheckFinding(
                kind: .missing, object: object.name, bytes: object.storedSize,
                detail: "\(state); \(Self.describe(use))",
                file: use.example)
            let marked = object.damagedAt != nil
            if marked && use.current == 0 {
                finding.kind = .lost
                finding.detail += "; recorded as lost earlier"
            } else if marked {
                finding.action = .markedForReupload
                finding.detail += "; already marked: the next backup stores it again"
            } else if repair {
                toMark.append(object.id)
                finding.action = use.current > 0 ? .markedForReupload : .recordedLost
            }
            findings.append(finding)
        }
        try catalog.markMissing(objectIDs: toMark, at: now)
        for finding in findings { try await emit(finding) }
    }

    /// Which files a missing object costs, in words.
    static func describe(_ use: ContentUse) -> String {
        let file = use.example ?? "?"
        switch (use.current, use.past) {
        case (0, 0): return "no version uses it"
        case (0, let past): return "only \(past) past version\(past == 1 ? "" : "s") used it (\(file))"
        case (1, _): return "the current version of \(file) uses it"
        case (let current, _): return "\(current) current files use it (\(file), …)"
        }
    }

    /// Sorts a batch of unrecorded objects into those an upload plan names (adopted when they match it) and
    /// unreferenced ones.
    mutating func flushUnrecorded() async throws {
        guard !unrecorded.isEmpty else { return }
        defer { unrecorded.removeAll(keepingCapacity: true) }
        let plans = Dictionary(
            try catalog.unfinishedUploads(repositoryID: repositoryID, objectNames: unrecorded.map(\.name.value)).map {
                ($0.objectName, $0)
            }, uniquingKeysWith: { first, _ in first })
        for info in unrecorded {
            guard let plan = plans[info.name.value] else {
                try await emit(
                    CheckFinding(
                        kind: .unreferenced, object: info.name.value, bytes: info.size,
                        detail: "not recorded in the catalog and named by no unfinished upload",
                        action: repair ? .kept : nil))
                continue
            }
            landedPlans.insert(plan.objectName)
            try await emit(try await landed(plan, info))
        }
    }

    /// An unfinished upload whose object is on the backend: adopted when repairing and it matches its plan.
    mutating func landed(_ plan: UnfinishedUpload, _ info: ObjectInfo) async throws -> CheckFinding {
        var finding = CheckFinding(
            kind: .unfinished, object: plan.objectName, bytes: plan.storedSize, detail: "",
            file: plan.display, age: now.timeIntervalSince(plan.updatedAt))
        guard plan.coversWholeFile else {
            finding.detail =
                "segment \(plan.segment + 1) landed before the catalog commit; the next backup resumes the file"
            return finding
        }
        guard info.size == plan.storedSize else {
            finding.detail =
                "is \(info.size) bytes on the backend, the plan says \(plan.storedSize); not adopted, left in place"
            return finding
        }
        let digest: [UInt8]
        do {
            digest = try await checker.backend.storedDigest(of: info.name).digest
        } catch let error as ArchiverError where error.code == .backend || error.code == .integrity {
            finding.detail = "landed but could not be read (\(error.message)); not adopted"
            return finding
        }
        guard digest == plan.storedSHA256 else {
            finding.detail = "landed but its SHA-256 differs from the plan's; not adopted, left in place"
            return finding
        }
        if repair {
            try catalog.adoptPendingUpload(repositoryID: repositoryID, plan)
            finding.action = .adopted
            finding.detail =
                "landed before the catalog commit; adopted: the next backup records the file without uploading it"
        } else {
            finding.detail =
                "landed before the catalog commit (name, size and SHA-256 match); `check --repair` adopts it"
        }
        return finding
    }

    /// Reports the plans whose object is not on the backend: the next backup resumes them.
    mutating func reportPlansNotLanded() async throws {
        try await catalog.forEachUnfinishedUpload(repositoryID: repositoryID) { plan in
            guard !landedPlans.contains(plan.objectName) else { return }
            let stage = plan.hasCheckpoint ? "upload begun" : "hashed, upload not begun"
            try await emit(
                CheckFinding(
                    kind: .unfinished, object: plan.objectName, bytes: plan.storedSize,
                    detail: "\(stage), object not on the backend yet; the next backup resumes it",
                    file: plan.display, age: now.timeIntervalSince(plan.updatedAt)))
        }
    }
}
