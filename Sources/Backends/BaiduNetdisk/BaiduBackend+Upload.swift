public import ArchiverKit
import Foundation
import Logging
import NIOHTTP1

/// Opening uploads: `precreate` with every digest, `locateupload` for the host, and adoption of an object that is
/// already there with the same content.
extension BaiduBackend {
    public func openWriter(for name: ObjectName, size: Int64?, digests: UploadDigests?) async throws
        -> any ObjectWriter
    {
        try await openWriter(for: name, size: size, digests: digests, resume: nil, checkpoint: { _ in })
    }

    /// Opens a session with `precreate` (rtype 0: never overwrite). A rapid-upload hit (return_type 2) or an object
    /// already at the path with the same size and true MD5 gives a writer that needs no bytes. With `resume`, the
    /// recorded session is asked again (`precreate` with its uploadid) which slices it still needs, and only those
    /// are sent.
    /// - Throws: `ArchiverError(.uploadExpired)` when the recorded session is gone; `.backend` when a different
    ///   object holds the name; `.quota`; `.loginNeeded`.
    public func openWriter(
        for name: ObjectName, size: Int64?, digests: UploadDigests?, resume: UploadCheckpoint?,
        checkpoint: @escaping @Sendable (UploadCheckpoint) -> Void
    ) async throws -> any ObjectWriter {
        try paths.check(name)
        let plan = try UploadPlan(
            name: name, path: paths.path(name), size: size, digests: digests, capabilities: capabilities)
        if let resume {
            return try await resumeWriter(plan, resume, checkpoint: checkpoint)
        }
        try await ensureFolder((plan.path as NSString).deletingLastPathComponent)
        switch try await precreate(plan, uploadid: nil) {
        case .created(let info):
            return BaiduUploadWriter(adopted: info, backend: self, plan: plan, createdHere: true)
        case .exists(let cause):
            return try await adoptExisting(plan, cause: cause)
        case .session(let uploadid, let needed):
            let host = await locateUpload(plan, uploadid: uploadid)
            let session = UploadSessionState(
                uploadid: uploadid, host: host, path: plan.path, sliceSize: plan.sliceSize,
                done: Self.done(of: plan, needed: needed))
            checkpoint(session.checkpoint)
            return BaiduUploadWriter(backend: self, plan: plan, session: session, checkpoint: checkpoint)
        }
    }

    private func resumeWriter(
        _ plan: UploadPlan, _ resume: UploadCheckpoint, checkpoint: @escaping @Sendable (UploadCheckpoint) -> Void
    ) async throws -> any ObjectWriter {
        guard let saved = UploadSessionState(resume), saved.path == plan.path, saved.sliceSize == plan.sliceSize else {
            throw ArchiverError(
                .uploadExpired,
                "the saved upload of object \(plan.name) does not match this one (another path or slice size); "
                    + "it starts over",
                subject: plan.name.value)
        }
        let result: PrecreateResult
        do {
            result = try await precreate(plan, uploadid: saved.uploadid)
        } catch let error as ArchiverError where error.code == .backend {
            // Resumers meet errno 2 or 31299 when Baidu has forgotten the uploadid.
            guard let cause = error.cause as? BaiduAPIError, cause.code == 2 || cause.code == 31299 else { throw error }
            throw ArchiverError(
                .uploadExpired, "Baidu forgot the upload session of object \(plan.name) (\(cause)); it starts over",
                subject: plan.name.value, cause: cause)
        }
        switch result {
        case .created(let info):
            // Possibly the earlier run's own object: an abort must not remove it.
            return BaiduUploadWriter(adopted: info, backend: self, plan: plan, createdHere: false)
        case .exists(let cause):
            // Killed between `create` and the catalog's commit: the object is there already.
            return try await adoptExisting(plan, cause: cause)
        case .session(let uploadid, let needed):
            guard uploadid == saved.uploadid else {
                throw ArchiverError(
                    .uploadExpired, "Baidu replaced the upload session of object \(plan.name); it starts over",
                    subject: plan.name.value)
            }
            var session = saved
            session.done = Self.done(of: plan, needed: needed)
            checkpoint(session.checkpoint)
            logger.info("resuming object \(plan.name): \(needed.count) of \(plan.sliceCount) slices left")
            return BaiduUploadWriter(backend: self, plan: plan, session: session, checkpoint: checkpoint)
        }
    }

    /// The slices Baidu does not ask for.
    private static func done(of plan: UploadPlan, needed: [Int]) -> [Int] {
        let missing = Set(needed)
        return (0..<plan.sliceCount).filter { !missing.contains($0) }
    }

    enum PrecreateResult: Sendable {
        /// A rapid-upload hit: Baidu made the object from content it holds.
        case created(ObjectInfo)
        /// The path is taken (-8, 31061).
        case exists(BaiduAPIError)
        /// An upload session: its id and the slice indices Baidu still needs.
        case session(uploadid: String, needed: [Int])
    }

    /// `precreate` with every digest, so Baidu can answer with a rapid-upload hit.
    /// - Throws: `ArchiverError` for any other refusal.
    func precreate(_ plan: UploadPlan, uploadid: String?) async throws -> PrecreateResult {
        var request = apiRequest("precreate", path: "/rest/2.0/xpan/file", [("method", "precreate")])
        request.method = .POST
        var form = [
            ("path", plan.path), ("size", String(plan.digests.size)), ("isdir", "0"), ("autoinit", "1"),
            ("rtype", "0"), ("block_list", JSONText.strings(plan.sliceMD5s)),
            ("content-md5", Hex.encode(plan.digests.md5)), ("slice-md5", Hex.encode(plan.digests.headMD5)),
        ]
        if let uploadid { form.append(("uploadid", uploadid)) }
        request.form = form
        let json: JSONValue
        do {
            json = try await client.json(request)
        } catch let error as BaiduAPIError where error.code == -8 || error.code == 31061 {
            return .exists(error)
        } catch let error as BaiduAPIError {
            throw ArchiverError(
                baidu: error, subject: plan.name.value, doing: "start the upload of object \(plan.name)")
        }
        if json["return_type"]?.int == 2 {
            let info = json["info"] ?? json
            let name = info["path"]?.string.flatMap(paths.name(forPath:)) ?? plan.name
            return .created(ObjectInfo(name: name, size: info["size"]?.int ?? plan.digests.size))
        }
        guard let id = json["uploadid"]?.string, !id.isEmpty else {
            throw ArchiverError(
                .backend, "cannot start the upload of object \(plan.name): Baidu's precreate answer has no uploadid",
                subject: plan.name.value)
        }
        let needed = json["block_list"]?.array?.compactMap { $0.int.map(Int.init) } ?? Array(0..<plan.sliceCount)
        return .session(uploadid: id, needed: needed.filter { (0..<plan.sliceCount).contains($0) })
    }

    /// The upload host for a session: the first server `locateupload` names, or the configured upload endpoint when
    /// it names none or cannot be asked.
    func locateUpload(_ plan: UploadPlan, uploadid: String) async -> String {
        let request = BaiduClient.Request(
            name: "locateupload", base: settings.uploadEndpoint, path: "/rest/2.0/pcs/file",
            query: [
                ("method", "locateupload"), ("appid", "250528"), ("path", plan.path), ("uploadid", uploadid),
                ("upload_version", "2.0"),
            ])
        do {
            let json = try await client.json(request)
            let servers = (json["servers"]?.array ?? []) + (json["bak_servers"]?.array ?? [])
            let urls = servers.compactMap { $0["server"]?.string }
                .filter { $0.hasPrefix("https://") || $0.hasPrefix("http://") }
            if var host = (urls.first { $0.hasPrefix("https://") } ?? urls.first).map(BaiduHTTP.secured) {
                while host.hasSuffix("/") { host.removeLast() }
                return host
            }
        } catch {
            logger.warning("locateupload failed (\(error)); uploading through \(settings.uploadEndpoint)")
        }
        return settings.uploadEndpoint
    }

    /// Adopts the object at the plan's path when it holds exactly the plan's bytes: same size and the same true MD5
    /// (the download's `Content-MD5`; the MD5 Baidu lists is not the content's).
    /// - Throws: `ArchiverError(.nameTaken)` "already exists with different content" otherwise.
    func adoptExisting(_ plan: UploadPlan, cause: BaiduAPIError) async throws -> BaiduUploadWriter {
        if let entry = try await entry(for: plan.name), entry.size == plan.digests.size {
            let md5 = try await BaiduDownload(backend: self, name: plan.name, fsID: entry.fsID).contentMD5()
            if md5 == plan.digests.md5 {
                logger.info("object \(plan.name) is already on Baidu Netdisk with the same content; adopted")
                return BaiduUploadWriter(
                    adopted: ObjectInfo(name: plan.name, size: entry.size, modified: entry.modified), backend: self,
                    plan: plan, createdHere: false)
            }
        }
        throw ArchiverError(
            .nameTaken,
            "object \(plan.name) already exists on Baidu Netdisk with different content; objects are never overwritten",
            subject: plan.name.value, cause: cause)
    }
}
