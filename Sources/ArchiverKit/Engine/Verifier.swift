public import Age
import Foundation

/// How thoroughly `verify` checks.
public enum VerifyDepth: Sendable, Equatable {
    /// Every object exists with its recorded size (from paged listings; nothing is downloaded).
    case quick
    /// Every object is downloaded and its stored SHA-256 compared; no key needed (what a daemon may schedule).
    case stored
    /// Objects are decrypted and inflated and the plaintext SHA-256 compared; `percent` < 100 samples contents.
    case deep(percent: Double)
}

/// What `verify` found.
public struct VerifyReport: Sendable {
    /// Objects checked.
    public var checked = 0
    /// Bytes downloaded.
    public var bytes: Int64 = 0
    /// Problems, one line each, naming the object.
    public var problems: [String] = []
    /// True when nothing was wrong.
    public var ok: Bool { problems.isEmpty }
}

/// Checks that what the catalog claims is stored really is, at three depths.
public struct Verifier: Sendable {
    let catalog: Catalog
    let backend: any RemoteBackend
    let repositoryID: String
    let store: ObjectStore

    /// Prepares a verification.
    /// - Parameters:
    ///   - catalog: the catalog.
    ///   - backend: the target.
    ///   - repositoryID: its repository id.
    public init(catalog: Catalog, backend: any RemoteBackend, repositoryID: String) {
        self.catalog = catalog
        self.backend = backend
        self.repositoryID = repositoryID
        self.store = ObjectStore(
            backend: backend, namer: ObjectNamer(repositoryID: repositoryID, capabilities: backend.capabilities),
            recipients: [], compression: .off)
    }

    /// Runs the check.
    /// - Parameters:
    ///   - depth: how deep.
    ///   - identities: needed for `.deep` only.
    public func verify(depth: VerifyDepth, identities: [any AgeIdentity] = []) async throws -> VerifyReport {
        var report = VerifyReport()
        switch depth {
        case .quick:
            try await quick(report: &report)
        case .stored:
            try await catalog.forEachObject(repositoryID: repositoryID, byName: false) { object in
                try await checkStored(object, report: &report)
            }
        case .deep(let percent):
            // Objects of one content are consecutive in recording order (a content's segments are recorded
            // together), so a content is checked once its last segment has been seen.
            var parts: [ObjectRecord] = []
            func flush() async throws {
                guard let first = parts.first else { return }
                defer { parts.removeAll() }
                if percent < 100 && Double.random(in: 0..<100) >= percent { return }
                try await checkDeep(contentID: first.contentID, objects: parts.sorted { $0.segment < $1.segment },
                    identities: identities, report: &report)
            }
            try await catalog.forEachObject(repositoryID: repositoryID, byName: false) { object in
                if let first = parts.first, first.contentID != object.contentID { try await flush() }
                parts.append(object)
            }
            try await flush()
        }
        return report
    }

    /// Merges the catalog's objects (in name order) with the backend's paged listing of the repository; both are
    /// read a page at a time. Listed objects the catalog does not record are `archiver check`'s business.
    private func quick(report: inout VerifyReport) async throws {
        try await StoredObjectWalk(catalog: catalog, backend: backend, repositoryID: repositoryID).run { step in
            guard case .recorded(let object, let listed) = step else { return }
            guard let listed else {
                report.problems.append("missing: \(object.name)")
                return
            }
            if listed.size != object.storedSize {
                report.problems.append(
                    "wrong size: \(object.name) is \(listed.size) bytes, the catalog says \(object.storedSize)")
            }
            report.checked += 1
        }
    }

    private func checkStored(_ object: ObjectRecord, report: inout VerifyReport) async throws {
        let name = try ObjectName(object.name)
        do {
            let (digest, count) = try await backend.storedDigest(of: name)
            report.checked += 1
            report.bytes += count
            if count != object.storedSize || digest != object.storedSHA256 {
                report.problems.append("damaged: \(object.name) does not match its recorded size and SHA-256")
                try catalog.markDamaged(objectID: object.id, at: Date())
            } else {
                try catalog.markVerified(objectID: object.id, deep: false, at: Date())
            }
        } catch let error as ArchiverError where error.code == .backend {
            report.problems.append("unreadable: \(object.name): \(error.message)")
        }
    }

    private func checkDeep(
        contentID: Int64, objects: [ObjectRecord], identities: [any AgeIdentity], report: inout VerifyReport
    ) async throws {
        guard let content = try catalog.content(id: contentID) else { return }
        let payload = PayloadCompression(catalogName: content.compression)
        do {
            try await store.load(
                objects: try objects.map { (try ObjectName($0.name), $0.plaintextSize) }, payload: payload,
                encrypted: content.encrypted, plaintextSHA256: content.plaintextSHA256, identities: identities,
                into: DiscardSink())
            for object in objects { try catalog.markVerified(objectID: object.id, deep: true, at: Date()) }
            report.checked += objects.count
            report.bytes += content.storedSize
        } catch let error as ArchiverError where error.code == .key {
            throw error
        } catch let error as ArchiverError {
            report.problems.append("damaged: \(objects.map(\.name).joined(separator: ", ")): \(error.message)")
            for object in objects { try catalog.markDamaged(objectID: object.id, at: Date()) }
        }
    }
}
