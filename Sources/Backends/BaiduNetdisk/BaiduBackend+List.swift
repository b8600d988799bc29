public import ArchiverKit
import Foundation
import NIOHTTP1

/// Listing, stat and delete over Baidu's `list` and `filemanager`.
extension BaiduBackend {
    /// One entry of a Baidu folder.
    struct Entry: Sendable, Equatable {
        var name: String
        var isDirectory: Bool
        var size: Int64
        var fsID: Int64
        var modified: Date?
    }

    /// Baidu's largest `list` page.
    static let listPageSize = 1000

    /// Every entry of one folder, through `list` pages of 1000 (Baidu says nothing of more pages: a short page is the
    /// last), or nil when the folder does not exist (-9).
    func listFolder(_ path: String) async throws -> [Entry]? {
        var entries: [Entry] = []
        var start = 0
        while true {
            let request = apiRequest(
                "list", path: "/rest/2.0/xpan/file",
                [
                    ("method", "list"), ("dir", path), ("order", "name"), ("start", String(start)),
                    ("limit", String(Self.listPageSize)),
                ])
            let json: JSONValue
            do {
                json = try await client.json(request)
            } catch let error as BaiduAPIError where error.code == -9 {
                return start == 0 ? nil : entries
            } catch let error as BaiduAPIError {
                throw ArchiverError(baidu: error, subject: path, doing: "list \(path)")
            }
            let items = json["list"]?.array ?? []
            for item in items {
                let fromPath = item["path"]?.string.map { ($0 as NSString).lastPathComponent }
                guard let name = item["server_filename"]?.string ?? fromPath else { continue }
                entries.append(
                    Entry(
                        name: name, isDirectory: (item["isdir"]?.int ?? 0) != 0, size: item["size"]?.int ?? 0,
                        fsID: item["fs_id"]?.int ?? 0,
                        modified: item["server_mtime"]?.int.map { Date(timeIntervalSince1970: TimeInterval($0)) }))
            }
            if items.count < Self.listPageSize { return entries }
            start += items.count
        }
    }

    /// The file entry of an object, or nil.
    func entry(for name: ObjectName) async throws -> Entry? {
        let path = paths.path(name)
        let parent = (path as NSString).deletingLastPathComponent
        let file = (path as NSString).lastPathComponent
        return try await listFolder(parent)?.first { $0.name == file && !$0.isDirectory }
    }

    public func stat(_ name: ObjectName) async throws -> ObjectInfo? {
        guard let entry = try await entry(for: name) else { return nil }
        return ObjectInfo(name: name, size: entry.size, modified: entry.modified)
    }

    /// Walks the folders depth first, each folder's entries in byte order of the names they lead to, so pages come
    /// out in ascending byte order (see `BaiduListing`).
    public func list(prefix: String, cursor: String?, limit: Int) async throws -> ListPage {
        try await BaiduListing { folder in try await self.listFolder(self.paths.folder(folder)) }
            .page(prefix: prefix, cursor: cursor, limit: limit)
    }

    /// Deletes through `filemanager` (synchronously). Baidu moves deleted files to its recycle bin, where they still
    /// count against the quota until the bin is emptied or they age out.
    public func delete(_ name: ObjectName) async throws {
        let path = paths.path(name)
        var request = apiRequest(
            "filemanager", path: "/rest/2.0/xpan/file", [("method", "filemanager"), ("opera", "delete")])
        request.method = .POST
        request.form = [("async", "0"), ("filelist", JSONText.strings([path]))]
        let json: JSONValue
        do {
            json = try await client.json(request)
        } catch let error as BaiduAPIError where error.code == -9 {
            return
        } catch let error as BaiduAPIError where error.code == 12 && Self.onlyMissing(error.body) {
            // A batch "failure" whose one item was already gone.
            return
        } catch let error as BaiduAPIError {
            throw ArchiverError(baidu: error, subject: name.value, doing: "delete object \(name)")
        }
        for item in json["info"]?.array ?? [] {
            let code = item["errno"]?.int ?? 0
            if code != 0 && code != -9 {
                throw ArchiverError(
                    .backend, "cannot delete object \(name): Baidu filemanager answered errno \(code) for \(path)",
                    subject: name.value)
            }
        }
    }

    /// Whether every item of a `filemanager` answer succeeded or was missing (-9).
    private static func onlyMissing(_ body: JSONValue?) -> Bool {
        guard let items = body?["info"]?.array, !items.isEmpty else { return false }
        return items.allSatisfy { [0, -9].contains($0["errno"]?.int ?? 0) }
    }
}
