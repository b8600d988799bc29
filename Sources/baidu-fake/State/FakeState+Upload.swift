import Foundation

/// precreate → superfile2 × N → create, with the checks of API notes §3 and §9.
extension FakeState {
    // MARK: Shared field checks

    /// A path field, normalized, that the app may write. Bad names give 31062, the sandbox -7 (xpan).
    func writablePath(_ fields: Fields, key: String = "path") throws(APIError) -> String {
        guard let raw = fields[key], !raw.isEmpty else { throw .parameter("\(key) is missing") }
        let path: String
        do {
            path = try RemotePath.normalize(raw)
        } catch {
            guard case .invalid(let reason) = error else { throw .parameter(key) }
            throw APIError(code: 31062, message: "file name is invalid: \(reason)")
        }
        guard isWritable(path) else { throw APIError(code: -7, message: "path is outside \(appRoot)/") }
        return path
    }

    /// A `block_list`: a JSON array of 32-hex MD5s.
    func blockList(_ fields: Fields) throws(APIError) -> [String] {
        guard let text = fields["block_list"] else { throw .parameter("block_list is missing") }
        guard let items = JSON.parse(text)?.array else { throw .parameter("block_list is not a JSON array") }
        let list = items.compactMap(\.string).map { $0.lowercased() }
        guard list.count == items.count,
            list.allSatisfy({ $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
        else { throw .parameter("block_list must hold 32-hex md5 strings") }
        return list
    }

    func rtype(_ fields: Fields) throws(APIError) -> Int {
        guard let value = fields.integer("rtype") else { return 0 }
        guard let rtype = value, (0...3).contains(rtype) else { throw .parameter("rtype must be 0, 1, 2 or 3") }
        return rtype
    }

    private func requiredInt(_ fields: Fields, _ key: String) throws(APIError) -> Int {
        guard let value = fields.integer(key) else { throw .parameter("\(key) is missing") }
        guard let number = value else { throw .parameter("\(key) is not a number") }
        return number
    }

    private func localTimes(_ fields: Fields, now: Int) -> (ctime: Int, mtime: Int) {
        (fields.integer("local_ctime").flatMap { $0 } ?? now, fields.integer("local_mtime").flatMap { $0 } ?? now)
    }

    /// Room for `size` more bytes (less whatever an overwrite frees)?
    private func checkQuota(adding size: Int, replacing path: String?) throws(APIError) {
        let freed = path.flatMap { entries[$0] }.map { $0.isDir ? 0 : $0.size } ?? 0
        guard used - freed + size <= settings.quotaTotal else {
            throw APIError(code: -10, message: "cloud capacity is full")
        }
    }

    // MARK: Sessions

    /// A session that is still usable, or the error that endpoint gives for an unknown or expired one.
    func liveSession(_ id: String, expired expiredError: APIError, unknown: APIError) throws(APIError) -> UploadSession
    {
        guard var session = sessions[id] else { throw unknown }
        if !session.expired, session.expiresAt <= Self.clock {
            expire(&session)
            sessions[id] = session
        }
        guard !session.expired else { throw expiredError }
        guard !session.committing else { throw unknown }
        return session
    }

    private func expire(_ session: inout UploadSession) {
        session.expired = true
        for slice in session.slices.values { store.remove(slice.url) }
        session.slices = [:]
    }

    /// `/__fake/expire-sessions`, or one session for an injected `expire_session` fault.
    func expireSessions(_ id: String? = nil) {
        for key in sessions.keys where id == nil || key == id {
            guard var session = sessions[key], !session.committing else { continue }
            expire(&session)
            sessions[key] = session
        }
    }

    private func newSessionID() -> String {
        sessionCounter += 1
        let text = "127.0.0.1:\(Self.now):\(sessionCounter)\(Self.randomHex(6))"
        return "P1-" + Data(text.utf8).base64EncodedString()
    }

    // MARK: precreate

    func precreate(_ fields: Fields) async throws(APIError) -> JSON {
        stats.precreate += 1
        let path = try writablePath(fields)
        let size = try requiredInt(fields, "size")
        let isDir = try requiredInt(fields, "isdir")
        guard fields["autoinit"] == "1" else { throw .parameter("autoinit must be 1") }
        let rtype = try rtype(fields)
        if isDir == 1 {
            return ["path": .string(path), "return_type": 1, "block_list": [], "uploadid": .string(newSessionID())]
        }
        let blocks = try blockList(fields)
        guard size > 0 else { throw .parameter("file size is zero") }
        guard !blocks.isEmpty else { throw .parameter("block_list is empty") }
        try checkQuota(adding: size, replacing: rtype == 3 ? path : nil)

        if let contentMD5 = fields["content-md5"]?.lowercased(), let sliceMD5 = fields["slice-md5"]?.lowercased(),
            let source = await findContent(size: size, md5: contentMD5, sliceMD5: sliceMD5)
        {
            let entry = try commitCopy(of: source, at: path, rtype: rtype, fields: fields)
            stats.rapidHits += 1
            return ["path": .string(entry.path), "return_type": 2, "info": .object(createInfo(entry))]
        }

        if let id = fields["uploadid"], !id.isEmpty {
            var session = try liveSession(
                id, expired: APIError(code: 31363, message: "upload session expired"),
                unknown: APIError(code: 31355, message: "uploadid is unknown"))
            guard session.path == path, session.size == size else {
                throw APIError(code: 31355, message: "uploadid does not belong to this path and size")
            }
            session.blockCount = blocks.count
            sessions[id] = session
            return [
                "path": .string(path), "uploadid": .string(id), "return_type": 1,
                "block_list": .array(session.missing.map { .int($0) }),
            ]
        }

        let now = Self.now
        let times = localTimes(fields, now: now)
        let id = newSessionID()
        sessions[id] = UploadSession(
            id: id, path: path, size: size, blockCount: blocks.count, rtype: rtype, localCtime: times.ctime,
            localMtime: times.mtime, expiresAt: Self.clock + Double(settings.sessionLifetime))
        return [
            "path": .string(path), "uploadid": .string(id), "return_type": 1,
            "block_list": .array((0..<blocks.count).map { .int($0) }),
        ]
    }

    /// A new name for existing content (rapid upload): same blob, new fs_id.
    private func commitCopy(of source: Entry, at path: String, rtype: Int, fields: Fields) throws(APIError) -> Entry {
        let placement = try place(path, rtype: rtype, blockList: source.blockList, isDir: false)
        let now = Self.now
        let times = localTimes(fields, now: now)
        var entry = source
        entry.fsID = takeFsID()
        (entry.ctime, entry.mtime, entry.localCtime, entry.localMtime) = (now, now, times.ctime, times.mtime)
        switch placement {
        case .existing(let existing):
            return existing
        case .replace(let target):
            entry.path = target
            entry.blob = try? source.blob.map(store.link)
            remove(target)
        case .fresh(let target):
            entry.path = target
            entry.blob = try? source.blob.map(store.link)
            guard makeFolders(RemotePath.parent(of: target), now: now) else {
                throw APIError(code: -7, message: "a parent of the path is a file")
            }
        }
        insert(entry)
        return entry
    }

    /// The fields create and a rapid precreate return.
    func createInfo(_ entry: Entry) -> [String: JSON] {
        var info: [String: JSON] = [
            "fs_id": .int(entry.fsID), "server_filename": .string(entry.name), "category": .int(entry.category),
            "path": .string(entry.path), "size": .int(entry.size), "ctime": .int(entry.ctime),
            "mtime": .int(entry.mtime), "isdir": .int(entry.isDir ? 1 : 0), "name": .string(entry.path),
        ]
        if !entry.isDir { info["md5"] = .string(entry.cloudMD5) }
        return info
    }

    // MARK: superfile2

    /// What superfile2 knows before it reads the slice: the session and the tier's slice rules.
    struct SliceTicket: Sendable {
        var sessionID: String
        var partseq: Int
        var sessionSize: Int
        var sliceSize: Int
        var vipType: Int

        /// The tier's slice-size rules (31364 too big, 31299 wrong size for the position).
        func check(size: Int) throws(APIError) {
            guard size > 0 else { throw APIError(code: 31208, message: "slice is empty") }
            guard size <= sliceSize else {
                throw APIError(code: 31364, message: "slice exceeds size limit of \(sliceSize) bytes")
            }
            let minimumFirst = min(4 << 20, sliceSize)
            if vipType == 0 {
                let count = (sessionSize + sliceSize - 1) / sliceSize
                if partseq >= count {
                    throw APIError(code: 31299, message: "Invalid param keylist: partseq beyond the file's slices")
                }
                if partseq < count - 1, size != sliceSize {
                    throw APIError(code: 31299, message: "every slice but the last must be \(sliceSize) bytes")
                }
            } else if partseq == 0, size < sessionSize, size < minimumFirst {
                throw APIError(code: 31299, message: "first slice smaller than \(minimumFirst) bytes")
            }
        }
    }

    func beginSlice(_ fields: Fields) throws(APIError) -> SliceTicket {
        guard fields["type"] == "tmpfile" else { throw .pcsParameter("type must be tmpfile") }
        guard let raw = fields["path"], let id = fields["uploadid"], let partText = fields["partseq"] else {
            throw .pcsParameter("path, uploadid and partseq are required")
        }
        guard let partseq = Int(partText), partseq >= 0 else { throw .pcsParameter("partseq is not a number") }
        let path: String
        do {
            path = try RemotePath.normalize(raw)
        } catch {
            throw APIError(code: 31062, message: "file name is invalid")
        }
        guard isWritable(path) else {
            throw APIError(
                code: 31064, message: "file is not authorized: upload path must be in \(appRoot)/", status: 403)
        }
        let session = try liveSession(
            id,
            expired: APIError(
                code: 31299,
                message: "[Method:Insert][Error:Expried Time Not Match][Param expired_time:"
                    + "\(Int(sessions[id]?.expiresAt ?? 0)) has expire]"),
            unknown: APIError(code: 31355, message: "param error: uploadid is unknown"))
        guard session.path == path else {
            throw APIError(code: 31355, message: "param error: path does not match the uploadid")
        }
        guard partseq < settings.maxSlices else {
            throw APIError(code: 31299, message: "Invalid param keylist: more than \(settings.maxSlices) slices")
        }
        return SliceTicket(
            sessionID: id, partseq: partseq, sessionSize: session.size, sliceSize: settings.sliceSize,
            vipType: settings.vipType)
    }

    /// Records a stored slice; the last write of a partseq wins.
    func finishSlice(_ ticket: SliceTicket, _ slice: Slice) throws(APIError) {
        do {
            var session = try liveSession(
                ticket.sessionID, expired: APIError(code: 31363, message: "upload session expired"),
                unknown: APIError(code: 31355, message: "param error: uploadid is unknown"))
            if let old = session.slices[ticket.partseq] { store.remove(old.url) }
            session.slices[ticket.partseq] = slice
            sessions[ticket.sessionID] = session
        } catch {
            store.remove(slice.url)
            throw error
        }
        stats.superfile2 += 1
        stats.bytesReceived += slice.size
    }

    // MARK: create

    /// What create does after its checks: answer at once, or assemble slices then `finishCreate`.
    enum CreateStep: Sendable {
        case done(JSON)
        case assemble(Assembly)
    }

    struct Assembly: Sendable {
        var sessionID: String
        var path: String
        var rtype: Int
        var blockList: [String]
        var parts: [URL]
    }

    func beginCreate(_ fields: Fields) async throws(APIError) -> CreateStep {
        let path = try writablePath(fields)
        let isDir =
            try fields.integer("isdir").map { value throws(APIError) -> Int in
                guard let value else { throw .parameter("isdir is not a number") }
                return value
            } ?? 0
        let rtype = try rtype(fields)
        if isDir == 1 { return .done(try makeFolder(path, rtype: rtype, fields: fields)) }

        let size = try requiredInt(fields, "size")
        let blocks = try blockList(fields)
        guard size > 0 else { throw .parameter("file size is zero") }
        guard !blocks.isEmpty else { throw .parameter("block_list is empty") }

        guard let id = fields["uploadid"], !id.isEmpty else {
            // Rapid upload by create: one md5 naming content the account already holds.
            guard blocks.count == 1, let source = await findContent(size: size, md5: blocks[0], sliceMD5: nil) else {
                throw APIError(code: 31079, message: "file md5 not found, upload the content")
            }
            try checkQuota(adding: size, replacing: rtype == 3 ? path : nil)
            let entry = try commitCopy(of: source, at: path, rtype: rtype, fields: fields)
            stats.rapidHits += 1
            stats.create += 1
            return .done(.object(createInfo(entry)))
        }

        let session = try liveSession(
            id, expired: APIError(code: 31363, message: "upload session expired"),
            unknown: APIError(code: 31355, message: "uploadid is unknown"))
        guard session.path == path else { throw APIError(code: 31355, message: "uploadid does not match path") }
        guard size == session.size else { throw APIError(code: 31190, message: "size differs from precreate") }
        guard size <= settings.maxFileSize else {
            throw APIError(code: 31365, message: "file size exceeds the limit of \(settings.maxFileSize) bytes")
        }
        guard blocks.count <= settings.maxSlices else { throw APIError(code: 31299, message: "Invalid param keylist") }
        for index in blocks.indices where session.slices[index] == nil {
            throw APIError(code: 31363, message: "block miss in superfile2: slice \(index) was not uploaded")
        }
        for (index, md5) in blocks.enumerated() where session.slices[index]?.md5 != md5 {
            throw APIError(code: 31190, message: "file not found: block_list[\(index)] is not the uploaded slice")
        }
        guard session.slices.keys.allSatisfy({ $0 < blocks.count }) else {
            throw APIError(code: 31190, message: "file not found: slices were uploaded beyond block_list")
        }
        guard session.slices.values.reduce(0, { $0 + $1.size }) == size else {
            throw APIError(code: 31190, message: "file not found: the slices do not add up to size")
        }
        try checkQuota(adding: size, replacing: rtype == 3 ? path : nil)
        if case .existing(let existing) = try place(path, rtype: rtype, blockList: blocks, isDir: false) {
            closeSession(id)
            stats.create += 1
            return .done(.object(createInfo(existing)))
        }
        sessions[id]?.committing = true
        return .assemble(
            Assembly(
                sessionID: id, path: path, rtype: rtype, blockList: blocks,
                parts: blocks.indices.compactMap { session.slices[$0]?.url }))
    }

    /// Commits assembled content, re-checking the name and the quota (another call may have won meanwhile).
    func finishCreate(_ assembly: Assembly, blob: URL, digest: BlobStore.Digest) throws(APIError) -> JSON {
        guard let session = sessions[assembly.sessionID] else {
            store.remove(blob)
            throw APIError(code: 31355, message: "uploadid is unknown")
        }
        let now = Self.now
        let entry: Entry
        do throws(APIError) {
            try checkQuota(adding: digest.size, replacing: assembly.rtype == 3 ? assembly.path : nil)
            let placement = try place(
                assembly.path, rtype: assembly.rtype, blockList: assembly.blockList, isDir: false)
            var fresh = Entry(
                fsID: takeFsID(), path: assembly.path, isDir: false, size: digest.size,
                md5: digest.md5 ?? (assembly.blockList.count == 1 ? assembly.blockList[0] : nil),
                sliceMD5: digest.sliceMD5, cloudMD5: Entry.cloudMD5(of: assembly.blockList),
                blockList: assembly.blockList, blob: blob, ctime: now, mtime: now, localCtime: session.localCtime,
                localMtime: session.localMtime)
            switch placement {
            case .existing(let existing):
                store.remove(blob)
                closeSession(assembly.sessionID)
                stats.create += 1
                return .object(createInfo(existing))
            case .replace(let target):
                remove(target)
                fresh.path = target
            case .fresh(let target):
                guard makeFolders(RemotePath.parent(of: target), now: now) else {
                    throw APIError(code: -7, message: "a parent of the path is a file")
                }
                fresh.path = target
            }
            entry = fresh
        } catch {
            store.remove(blob)
            sessions[assembly.sessionID]?.committing = false
            throw error
        }
        insert(entry)
        closeSession(assembly.sessionID)
        stats.create += 1
        return .object(createInfo(entry))
    }

    /// Gives a session back after assembling failed on disk.
    func abortCreate(_ sessionID: String) {
        sessions[sessionID]?.committing = false
    }

    private func closeSession(_ id: String) {
        guard var session = sessions[id] else { return }
        session.committing = false
        expire(&session)
        sessions[id] = session
    }

    /// mkdir: create with isdir=1 (category 6; rtype 0 and an existing name give -8).
    private func makeFolder(_ path: String, rtype: Int, fields: Fields) throws(APIError) -> JSON {
        let now = Self.now
        switch try place(path, rtype: rtype, isDir: true) {
        case .existing(let existing):
            stats.create += 1
            return .object(createInfo(existing))
        case .fresh(let target), .replace(let target):
            guard makeFolders(RemotePath.parent(of: target), now: now) else {
                throw APIError(code: -7, message: "a parent of the path is a file")
            }
            let times = localTimes(fields, now: now)
            let entry = Entry(
                fsID: takeFsID(), path: target, isDir: true, ctime: now, mtime: now, localCtime: times.ctime,
                localMtime: times.mtime)
            insert(entry)
            stats.create += 1
            return .object(createInfo(entry))
        }
    }
}
