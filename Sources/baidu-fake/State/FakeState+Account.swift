import Foundation

/// uinfo, quota, locateupload, and the state behind the control API.
extension FakeState {
    func userInfo() -> JSON {
        [
            "baidu_name": "fake_user", "netdisk_name": "fake_user",
            "avatar_url": "https://dss0.bdstatic.com/fake-avatar.jpg", "vip_type": .int(settings.vipType),
            "uk": .int(uk),
        ]
    }

    func quotaInfo() -> JSON {
        [
            "total": .int(settings.quotaTotal), "used": .int(used), "free": .int(max(0, settings.quotaTotal - used)),
            "expire": false,
        ]
    }

    /// locateupload: this same server is the only upload host.
    func uploadHosts() -> JSON {
        let server: JSON = ["server": .string(baseURL)]
        return [
            "error_code": 0, "host": .string(baseURL.replacingOccurrences(of: "http://", with: "")),
            "servers": [server], "bak_servers": [server], "quic_servers": [], "client_ip": "127.0.0.1",
            "expire": 60, "server_time": .int(Self.now), "sl": 0, "newno": "",
        ]
    }

    /// `/__fake/config`: changes settings; 0 or null clears the slice-size and file-size overrides.
    func configure(_ body: JSON) throws(APIError) {
        guard case .object(let members) = body else { throw .parameter("config must be a JSON object") }
        var next = settings
        for (key, value) in members {
            let number = value.int
            switch key {
            case "vip_type":
                guard let number, (0...2).contains(number) else { throw .parameter("vip_type must be 0, 1 or 2") }
                next.vipType = number
            case "slice_size": next.sliceSizeOverride = number.flatMap { $0 > 0 ? $0 : nil }
            case "max_file_size": next.maxFileSizeOverride = number.flatMap { $0 > 0 ? $0 : nil }
            case "auto_approve":
                guard let flag = value.bool else { throw .parameter("auto_approve must be a boolean") }
                next.autoApprove = flag
            default:
                let paths: [String: WritableKeyPath<Settings, Int>] = [
                    "quota_total": \.quotaTotal, "max_slices": \.maxSlices, "token_lifetime": \.tokenLifetime,
                    "session_lifetime": \.sessionLifetime, "rate_limit": \.rateLimit,
                    "device_expires_in": \.deviceExpiresIn, "device_interval": \.deviceInterval,
                    "dlink_lifetime": \.dlinkLifetime,
                ]
                guard let path = paths[key] else { throw .parameter("unknown config key \(key)") }
                guard let number, number >= 0 else { throw .parameter("\(key) must be a non-negative integer") }
                next[keyPath: path] = number
            }
        }
        settings = next
        buckets = [:]
    }

    /// `/__fake/put`: a file already in the account (as if uploaded earlier), replacing any at `path`.
    func put(_ path: String, blob: URL, digest: BlobStore.Digest, blockList: [String]) throws(APIError) -> Int {
        let now = Self.now
        if let existing = entries[path] {
            guard !existing.isDir else { throw .parameter("a folder exists at \(path)") }
            remove(path)
        }
        guard makeFolders(RemotePath.parent(of: path), now: now) else { throw .parameter("a parent is a file") }
        let entry = Entry(
            fsID: takeFsID(), path: path, isDir: false, size: digest.size, md5: digest.md5,
            sliceMD5: digest.sliceMD5, cloudMD5: Entry.cloudMD5(of: blockList), blockList: blockList, blob: blob,
            ctime: now, mtime: now, localCtime: now, localMtime: now)
        insert(entry)
        return entry.fsID
    }

    /// `/__fake/files`: every file with its true MD5.
    func fileList() async -> JSON {
        var list: [JSON] = []
        for path in entries.values.filter({ !$0.isDir }).map(\.path).sorted() {
            let md5 = await trueMD5(of: path)
            guard let entry = entries[path] else { continue }
            list.append([
                "path": .string(path), "size": .int(entry.size), "md5": md5.map(JSON.string) ?? .null,
                "fs_id": .int(entry.fsID),
            ])
        }
        return .array(list)
    }

    /// The true MD5 of the file at `path`, computed off the actor on first need and remembered.
    func trueMD5(of path: String) async -> String? {
        guard let entry = entries[path], !entry.isDir else { return nil }
        if let md5 = entry.md5 { return md5 }
        guard let blob = entry.blob, let md5 = try? await Blocking.run({ [store] in try store.md5(of: blob) })
        else { return nil }
        // The file may have moved meanwhile; its fs_id still finds it.
        if let current = pathsByID[entry.fsID] { entries[current]?.md5 = md5 }
        return md5
    }

    /// A file holding exactly this content (same size and MD5, and the same first-256-KiB MD5 when given).
    func findContent(size: Int, md5: String, sliceMD5: String?) async -> Entry? {
        let candidates = entries.values.filter {
            !$0.isDir && $0.size == size && (sliceMD5 == nil || $0.sliceMD5 == sliceMD5)
        }.map(\.path)
        for path in candidates where await trueMD5(of: path) == md5 {
            if let entry = entries[path] { return entry }
        }
        return nil
    }
}
