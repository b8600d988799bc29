import Foundation

/// Walks a repository's recorded objects (from the catalog, by name) beside the backend's paged listing of the
/// repository's folder `<id>/`, both in byte order of names, holding one page of each: `verify` and `check` share
/// it. Memory does not grow with the number of objects on either side.
struct StoredObjectWalk: Sendable {
    let catalog: Catalog
    let backend: any RemoteBackend
    let repositoryID: String

    /// Objects per listing page.
    static let listPageSize = 1000

    /// What one step of the walk found.
    enum Step {
        /// An object the catalog records, and the listed object of that name, nil when the backend has none.
        case recorded(ObjectRecord, listed: ObjectInfo?)
        /// A listed object under `<id>/` that the catalog does not record (repository metadata included: the
        /// caller decides what counts).
        case unrecorded(ObjectInfo)
    }

    /// The repository's folder on the backend; other repositories' folders are never listed.
    var prefix: String { "\(repositoryID)/" }

    /// Calls `body` for every recorded and every listed object, in name order.
    func run(_ body: (Step) async throws -> Void) async throws {
        var listing = PagedListing(backend: backend, prefix: prefix)
        try await catalog.forEachObject(repositoryID: repositoryID, byName: true) { object in
            while let listed = try await listing.peek(),
                listed.name.value.utf8.lexicographicallyPrecedes(object.name.utf8)
            {
                try await body(.unrecorded(listed))
                listing.advance()
            }
            if let listed = try await listing.peek(), listed.name.value == object.name {
                try await body(.recorded(object, listed: listed))
                listing.advance()
            } else {
                try await body(.recorded(object, listed: nil))
            }
        }
        while let listed = try await listing.peek() {
            try await body(.unrecorded(listed))
            listing.advance()
        }
    }
}

/// A backend listing read one page at a time, seen one object at a time.
private struct PagedListing {
    let backend: any RemoteBackend
    let prefix: String
    private var page: [ObjectInfo] = []
    private var index = 0
    private var cursor: String?
    private var done = false

    init(backend: any RemoteBackend, prefix: String) {
        self.backend = backend
        self.prefix = prefix
    }

    /// The next listed object, fetching pages as needed; nil when the listing is exhausted.
    mutating func peek() async throws -> ObjectInfo? {
        while index >= page.count {
            if done { return nil }
            let next = try await backend.list(prefix: prefix, cursor: cursor, limit: StoredObjectWalk.listPageSize)
            page = next.objects
            index = 0
            cursor = next.nextCursor
            done = cursor == nil
        }
        return page[index]
    }

    /// Moves past the object `peek` returned.
    mutating func advance() { index += 1 }
}

extension RemoteBackend {
    /// SHA-256 and size of a stored object, read through a dedicated thread; the reader is closed either way.
    func storedDigest(of name: ObjectName) async throws -> (digest: [UInt8], count: Int64) {
        let reader = try await openReader(for: name, range: nil)
        do {
            let result = try await BlockingWork.sha256(of: reader)
            await reader.close()
            return result
        } catch {
            await reader.close()
            throw error
        }
    }
}
