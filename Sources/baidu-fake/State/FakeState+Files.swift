import Foundation

/// list, listall, search, filemetas and filemanager (API notes §4 and §6).
extension FakeState {
    /// A path to read: any normalized path (reads are not confined to the app's folder).
    private func readablePath(_ raw: String?, missing: APIError) throws(APIError) -> Entry {
        guard let raw, let path = try? RemotePath.normalize(raw) else {
            throw APIError(code: -7, message: "path is invalid")
        }
        guard let entry = entries[path], entry.isDir else { throw missing }
        return entry
    }

    private func paging(_ fields: Fields, maxLimit: Int) throws(APIError) -> (start: Int, limit: Int) {
        let start = fields.integer("start") ?? 0
        let limit = fields.integer("limit") ?? 1000
        guard let start, start >= 0 else { throw .parameter("start must be a non-negative number") }
        guard let limit, (1...maxLimit).contains(limit) else { throw .parameter("limit must be 1...\(maxLimit)") }
        return (start, limit)
    }

    /// Folders first, then files, each by `order` (name, time or size); `desc=1` reverses within each group.
    private func sorted(_ items: [Entry], _ fields: Fields) throws(APIError) -> [Entry] {
        let order = fields["order"] ?? "name"
        let descending = fields["desc"] == "1"
        guard ["name", "time", "size"].contains(order) else { throw .parameter("order must be name, time or size") }
        return items.sorted { left, right in
            if left.isDir != right.isDir { return left.isDir }
            let ascending: Bool
            switch order {
            case "time": ascending = (left.mtime, left.name) < (right.mtime, right.name)
            case "size": ascending = (left.size, left.name) < (right.size, right.name)
            default: ascending = left.name < right.name
            }
            return descending ? !ascending && left.name != right.name : ascending
        }
    }

    private func item(_ entry: Entry, _ fields: Fields) -> JSON {
        var item = entry.listItem()
        if entry.isDir, fields["showempty"] == "1" || fields["web"] == "1" {
            item["dir_empty"] = .int((children[entry.path] ?? []).isEmpty ? 1 : 0)
        }
        return .object(item)
    }

    /// `xpan/file?method=list`: one folder, no `has_more`; a missing folder is -9.
    func list(_ fields: Fields) throws(APIError) -> JSON {
        let folder = try readablePath(
            fields["dir"] ?? "/", missing: APIError(code: -9, message: "file does not exist"))
        let (start, limit) = try paging(fields, maxLimit: 1000)
        var items = try sorted(contents(of: folder.path), fields)
        if fields["folder"] == "1" { items = items.filter(\.isDir) }
        let page = items.dropFirst(start).prefix(limit)
        return ["list": .array(page.map { item($0, fields) }), "guid_info": "", "guid": 0]
    }

    /// `xpan/multimedia?method=listall`: paged by `start`/`cursor` with `has_more`; a missing path is 31066.
    func listAll(_ fields: Fields) throws(APIError) -> JSON {
        let folder = try readablePath(
            fields["path"] ?? "/", missing: APIError(code: 31066, message: "file does not exist"))
        let (start, limit) = try paging(fields, maxLimit: 10000)
        let items =
            fields["recursion"] == "1" ? descendants(of: folder.path) : try sorted(contents(of: folder.path), fields)
        let page = items.dropFirst(start).prefix(limit)
        let cursor = start + page.count
        return [
            "list": .array(page.map { item($0, fields) }), "cursor": .int(cursor),
            "has_more": .int(cursor < items.count ? 1 : 0),
        ]
    }

    /// `xpan/file?method=search`: names containing `key` (case-insensitive), 500 per `page` (from 1).
    func search(_ fields: Fields) throws(APIError) -> JSON {
        guard let key = fields["key"], !key.isEmpty, key.count <= 30 else {
            throw .parameter("key must be 1 to 30 characters")
        }
        let folder = try readablePath(fields["dir"] ?? "/", missing: APIError(code: -9, message: "file does not exist"))
        let pool = fields["recursion"] == "1" ? descendants(of: folder.path) : contents(of: folder.path)
        let matches = pool.filter { $0.name.lowercased().contains(key.lowercased()) }.sorted { $0.path < $1.path }
        let num = min(fields.integer("num").flatMap { $0 } ?? 500, 500)
        guard let pageNumber = fields.integer("page") else {
            return ["list": .array(matches.map { item($0, fields) }), "has_more": 0, "contentlist": []]
        }
        guard let pageNumber, pageNumber >= 1, num >= 1 else { throw .parameter("page starts at 1") }
        let page = matches.dropFirst((pageNumber - 1) * num).prefix(num)
        return [
            "list": .array(page.map { item($0, fields) }),
            "has_more": .int(pageNumber * num < matches.count ? 1 : 0), "contentlist": [],
        ]
    }

    /// `xpan/multimedia?method=filemetas`: at most 100 fs_ids; the name field is `filename`; unknown ids are
    /// left out; `dlink=1` adds a download link valid 8 hours.
    func fileMetas(_ fields: Fields) throws(APIError) -> JSON {
        guard let text = fields["fsids"], let items = JSON.parse(text)?.array else {
            throw .parameter("fsids must be a JSON array")
        }
        let ids = items.compactMap(\.int)
        guard ids.count == items.count, !ids.isEmpty, ids.count <= 100 else {
            throw .parameter("fsids must hold 1 to 100 numbers")
        }
        let wantsLink = fields["dlink"] == "1"
        let list: [JSON] = ids.compactMap { id in
            guard let path = pathsByID[id], let entry = entries[path] else { return nil }
            var item = entry.listItem(nameKey: "filename")
            if wantsLink, !entry.isDir { item["dlink"] = .string(makeLink(for: entry)) }
            return .object(item)
        }
        return ["list": .array(list), "names": [:], "errmsg": "succ"]
    }

    // MARK: filemanager

    /// `xpan/file?method=filemanager&opera=copy|move|rename|delete`: per-item `info[].errno`, a top-level 12
    /// when any item failed, `taskid` (and no item results) for `async=2`.
    func fileManager(_ fields: Fields) throws(APIError) -> JSON {
        guard let opera = fields["opera"], ["copy", "move", "rename", "delete"].contains(opera) else {
            throw .parameter("opera must be copy, move, rename or delete")
        }
        guard let asyncMode = fields.integer("async") ?? 1, (0...2).contains(asyncMode) else {
            throw .parameter("async must be 0, 1 or 2")
        }
        let ondup = fields["ondup"] ?? "fail"
        guard ["fail", "newcopy", "overwrite", "skip"].contains(ondup) else {
            throw .parameter("ondup must be fail, newcopy, overwrite or skip")
        }
        guard let text = fields["filelist"], let items = JSON.parse(text)?.array, !items.isEmpty else {
            throw .parameter("filelist must be a non-empty JSON array")
        }
        guard items.count <= 100 else { throw .parameter("filelist holds more than 100 items") }
        var info: [JSON] = []
        for item in items {
            info.append(opera == "delete" ? delete(item) : transfer(opera, item, ondup: ondup))
        }
        let failed = info.contains { $0["errno"]?.int != 0 }
        if asyncMode == 2 {
            return ["info": [], "taskid": .int(Int.random(in: 100_000_000_000...999_999_999_999))]
        }
        return ["info": .array(info), "errno": .int(failed ? 12 : 0)]
    }

    private func delete(_ item: JSON) -> JSON {
        guard let raw = item.string ?? item["path"]?.string else { return ["errno": 2, "path": ""] }
        guard let path = try? RemotePath.normalize(raw), path != "/" else {
            return ["errno": -7, "path": .string(raw)]
        }
        guard isWritable(path), path != appRoot else { return ["errno": -7, "path": .string(path)] }
        guard entries[path] != nil else { return ["errno": -9, "path": .string(path)] }
        remove(path)
        return ["errno": 0, "path": .string(path)]
    }

    private func transfer(_ opera: String, _ item: JSON, ondup globalOndup: String) -> JSON {
        let raw = item["path"]?.string ?? ""
        func failure(_ code: Int) -> JSON { ["errno": .int(code), "path": .string(raw)] }
        guard let source = try? RemotePath.normalize(raw), source != "/" else { return failure(-7) }
        guard let entry = entries[source] else { return failure(-9) }
        if opera != "copy", !isWritable(source) || source == appRoot { return failure(-7) }
        let newName = item["newname"]?.string ?? (opera == "rename" ? nil : entry.name)
        guard let newName, (try? RemotePath.checkName(newName)) != nil else { return failure(-7) }
        let folder: String
        if opera == "rename" {
            folder = RemotePath.parent(of: source)
        } else {
            guard let dest = item["dest"]?.string, let normalized = try? RemotePath.normalize(dest) else {
                return failure(-7)
            }
            folder = normalized
        }
        var target = RemotePath.join(folder, newName)
        guard isWritable(target), target != appRoot else { return failure(-7) }
        if entry.isDir, RemotePath.isInside(target, source) { return target == source ? success(source) : failure(-7) }
        if target == source { return success(source) }
        if let existing = entries[target] {
            switch item["ondup"]?.string ?? globalOndup {
            case "skip": return success(source, to: target)
            case "newcopy": target = freeName(for: target)
            case "overwrite":
                guard existing.isDir == entry.isDir, !RemotePath.isInside(source, target) else { return failure(-8) }
            default: return failure(-8)
            }
        }
        let now = Self.now
        let moving = opera != "copy"
        if !moving {
            let size = ([entry] + descendants(of: source)).filter { !$0.isDir }.reduce(0) { $0 + $1.size }
            let freed = entries[target].map { $0.isDir ? 0 : $0.size } ?? 0
            guard used - freed + size <= settings.quotaTotal else { return failure(-10) }
        }
        remove(target)
        guard makeFolders(folder, now: now) else { return failure(-7) }
        if moving {
            for var moved in detach(source) {
                moved.path = target + moved.path.dropFirst(source.count)
                insert(moved)
            }
        } else {
            for original in [entry] + descendants(of: source) {
                var copy = original
                copy.fsID = takeFsID()
                copy.path = target + original.path.dropFirst(source.count)
                (copy.ctime, copy.mtime) = (now, now)
                copy.blob = try? original.blob.map(store.link)
                insert(copy)
            }
        }
        return success(source, to: target)
    }

    private func success(_ path: String, to target: String? = nil) -> JSON {
        var info: [String: JSON] = ["errno": 0, "path": .string(path)]
        if let target { info["to_path"] = .string(target) }
        return .object(info)
    }

    // MARK: Download links

    private func makeLink(for entry: Entry) -> String {
        let token = Self.randomHex(32)
        let sign = Self.randomHex(40)
        links[token] = DownloadLink(
            fsID: entry.fsID, sign: sign, expiresAt: Self.clock + Double(settings.dlinkLifetime))
        return "\(baseURL)/file/\(token)?fid=\(uk)-250528-\(entry.fsID)&rt=pr&sign=\(sign)&expires=8h&chkv=3"
            + "&chkbd=0&chkpc=et&dp-logid=\(Self.randomHex(16))"
    }

    /// What a download answer needs.
    struct Download: Sendable {
        var blob: URL
        var size: Int
        var md5: String
        var name: String
        var reset: Bool
    }

    private func checkLink(_ token: String, sign: String?, data: Bool) throws(APIError) -> (DownloadLink, Entry) {
        guard let link = links[token], link.isData == data, link.sign == sign else {
            throw APIError(code: 31362, message: "sign error", status: 403)
        }
        guard link.expiresAt > Self.clock else { throw APIError(code: 31360, message: "url expired", status: 403) }
        guard let path = pathsByID[link.fsID], let entry = entries[path], entry.blob != nil else {
            throw APIError(code: 31066, message: "file does not exist", status: 404)
        }
        return (link, entry)
    }

    /// `/file/<token>`: the 302 target on the data host.
    func redirect(_ token: String, sign: String?, reset: Bool) throws(APIError) -> String {
        let (link, entry) = try checkLink(token, sign: sign, data: false)
        let dataToken = Self.randomHex(32)
        let dataSign = Self.randomHex(40)
        links[dataToken] = DownloadLink(
            fsID: entry.fsID, sign: dataSign, expiresAt: link.expiresAt, isData: true, resetPending: reset)
        return "\(baseURL)/cdn/\(dataToken)?sign=\(dataSign)&fid=\(uk)-250528-\(entry.fsID)&expires=8h"
    }

    /// `/cdn/<token>`: the content to send.
    func download(_ token: String, sign: String?) async throws(APIError) -> Download {
        let (link, entry) = try checkLink(token, sign: sign, data: true)
        links[token]?.resetPending = false
        stats.downloads += 1
        let md5 = await trueMD5(of: entry.path) ?? ""
        return Download(blob: entry.blob!, size: entry.size, md5: md5, name: entry.name, reset: link.resetPending)
    }
}
