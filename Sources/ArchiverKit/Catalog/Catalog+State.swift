import Foundation
import GRDB

extension Catalog {
    /// The versions alive at a run (for restore): every version with `first_run <= run` and no `end_run`, or an
    /// `end_run` after it. Later runs, even interrupted ones, never change this set: they only add versions that
    /// start after `run` and end versions after `run`.
    ///
    /// Items come in (source, dir, name) byte order, which puts every folder before what it contains.
    /// - Parameters:
    ///   - repositoryID: the repository.
    ///   - run: the run whose state is wanted; it must belong to the repository.
    ///   - source: only this source, or all.
    ///   - pathPrefix: only this relative path and everything below it (whole components: `a` does not select
    ///     `ab`), or everything.
    /// - Returns: a cursor that reads the state a page at a time.
    public func state(repositoryID: String, asOfRun run: Int64, source: String?, pathPrefix: [UInt8]?) throws
        -> CatalogCursor
    {
        if let pathPrefix, !pathPrefix.isEmpty { try CatalogPath.validateDir(pathPrefix) }
        guard let record = try self.run(run), record.repositoryID == repositoryID else {
            throw ArchiverError(.catalog, "repository \(repositoryID) has no run \(run)", subject: path)
        }
        let prefix = pathPrefix.flatMap { $0.isEmpty ? nil : $0 }
        return CatalogCursor(catalog: self, repositoryID: repositoryID, run: run, source: source, pathPrefix: prefix)
    }
}

/// The state of a repository as of one run, read a page at a time: memory stays bounded however many versions
/// there are, and each page is read in its own short read transaction so `body` may take as long as a download
/// takes and call back into the catalog.
///
/// The pages are consistent with each other because the state of a past run never changes (see `state`).
public struct CatalogCursor: Sendable {
    let catalog: Catalog
    /// The repository.
    public let repositoryID: String
    /// The run whose state this is.
    public let run: Int64
    /// The only source read, or nil for all.
    public let source: String?
    /// The only subtree read, or nil for all.
    public let pathPrefix: [UInt8]?

    /// Calls `body` for each item in (source, dir, name) order.
    public func forEach(_ body: (RestoreItem) throws -> Void) throws {
        var after: (source: String, dir: [UInt8], name: [UInt8])?
        while true {
            let page = try catalog.read("reading the state as of run \(run)") { db in
                try readPage(db, after: after)
            }
            for item in page { try body(item) }
            guard let last = page.last, page.count == Catalog.pageSize else { return }
            after = (last.version.source, last.version.dir, last.version.name)
        }
    }

    /// Calls `body` for each item in (source, dir, name) order, awaiting each call; each page is read in its own
    /// short transaction, so memory holds one page however large the state.
    public func forEach(_ body: (RestoreItem) async throws -> Void) async throws {
        var after: (source: String, dir: [UInt8], name: [UInt8])?
        while true {
            let page = try catalog.read("reading the state as of run \(run)") { db in
                try readPage(db, after: after)
            }
            for item in page { try await body(item) }
            guard let last = page.last, page.count == Catalog.pageSize else { return }
            after = (last.version.source, last.version.dir, last.version.name)
        }
    }

    /// Counts the items without reading them out.
    public func count() throws -> Int {
        try catalog.read("counting the state as of run \(run)") { db in
            let (conditions, arguments) = filter(after: nil)
            return try Int.fetchOne(
                db, sql: "SELECT count(*) FROM versions v WHERE \(conditions)", arguments: arguments) ?? 0
        }
    }

    private func filter(after: (source: String, dir: [UInt8], name: [UInt8])?) -> (String, StatementArguments) {
        var conditions = ["v.repository_id = ?", "v.first_run <= ?", "(v.end_run IS NULL OR v.end_run > ?)"]
        var arguments: StatementArguments = [repositoryID, run, run]
        if let source {
            conditions.append("v.source = ?")
            arguments += [source]
        }
        if let prefix = pathPrefix {
            let (parent, last) = BytePath.split(prefix)
            let (lower, upper) = CatalogPath.below(prefix)
            // The outer range bounds the index scan (its lower end is the resume point once there is one, or every
            // page would rescan from the start); the OR picks the entry itself, its contents, and its subtree.
            if after == nil {
                conditions.append("v.dir >= ?")
                arguments += [Data(parent)]
            }
            conditions.append("v.dir < ?")
            conditions.append("((v.dir = ? AND v.name = ?) OR v.dir = ? OR (v.dir >= ? AND v.dir < ?))")
            arguments += [Data(upper), Data(parent), Data(last), Data(prefix), Data(lower), Data(upper)]
        }
        if let after {
            // At most one version of a path is alive at a run, so (source, dir, name) is a key of the state. With
            // the source fixed, leaving it out of the row value lets SQLite seek without sorting.
            if source == nil {
                conditions.append("(v.source, v.dir, v.name) > (?, ?, ?)")
                arguments += [after.source, Data(after.dir), Data(after.name)]
            } else {
                conditions.append("(v.dir, v.name) > (?, ?)")
                arguments += [Data(after.dir), Data(after.name)]
            }
        }
        return (conditions.joined(separator: " AND "), arguments)
    }

    /// One page's query. `CROSS JOIN` keeps `versions` the outer loop, so rows come in index order and no page
    /// is sorted in memory.
    func pageQuery(after: (source: String, dir: [UInt8], name: [UInt8])?) -> (String, StatementArguments) {
        let (conditions, arguments) = filter(after: after)
        let sql = """
            SELECT \(CatalogColumns.version)
            FROM versions v CROSS JOIN runs r ON r.id = v.first_run
            WHERE \(conditions)
            ORDER BY v.source, v.dir, v.name
            LIMIT \(Catalog.pageSize)
            """
        return (sql, arguments)
    }

    private func readPage(_ db: Database, after: (source: String, dir: [UInt8], name: [UInt8])?) throws
        -> [RestoreItem]
    {
        let (sql, arguments) = pageQuery(after: after)
        let versions = try Row.fetchAll(db, sql: sql, arguments: arguments).map(VersionRecord.init(row:))
        let contentIDs = Array(Set(versions.compactMap(\.contentID)))
        guard !contentIDs.isEmpty else {
            return versions.map { RestoreItem(version: $0, content: nil, objects: []) }
        }
        let marks = Array(repeating: "?", count: contentIDs.count).joined(separator: ", ")
        var contents: [Int64: ContentRecord] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT \(CatalogColumns.content) FROM contents WHERE id IN (\(marks))",
            arguments: StatementArguments(contentIDs))
        {
            let content = try ContentRecord(row: row)
            contents[content.id] = content
        }
        var objects: [Int64: [ObjectRecord]] = [:]
        for row in try Row.fetchAll(
            db,
            sql: """
                SELECT \(CatalogColumns.object) FROM objects WHERE content_id IN (\(marks))
                ORDER BY content_id, segment
                """,
            arguments: StatementArguments(contentIDs))
        {
            let object = try ObjectRecord(row: row)
            objects[object.contentID, default: []].append(object)
        }
        return try versions.map { version in
            guard let contentID = version.contentID else {
                return RestoreItem(version: version, content: nil, objects: [])
            }
            guard let content = contents[contentID], let parts = objects[contentID], !parts.isEmpty else {
                throw ArchiverError(
                    .catalog, "the catalog has no stored objects for \(version.source)/\(version.display)",
                    subject: catalog.path)
            }
            return RestoreItem(version: version, content: content, objects: parts)
        }
    }
}
