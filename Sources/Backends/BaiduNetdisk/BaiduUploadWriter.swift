import ArchiverKit
import Crypto
import Foundation
import NIOHTTP1
import NIOCore
import Synchronization

/// Sends one object's bytes as slices of an open session, then makes it visible with `create`.
///
/// `write` runs on a pipeline thread: it fills a slice buffer, checks each full slice's MD5 against the digest
/// announced in `precreate` (a difference means the source changed between the passes: the upload stops and
/// `create` is never called), and hands the slice to an upload task. At most `upload_concurrency` slice buffers
/// exist, the one being filled included; the pipeline waits for a free one. Slices a resumed session already holds
/// are checked and dropped.
final class BaiduUploadWriter: ObjectWriter {
    private let backend: BaiduBackend
    private let plan: UploadPlan
    /// nil for a writer that needs no bytes.
    private let session: UploadSessionState?
    /// The object, when Baidu already holds it (a rapid-upload hit or an adopted earlier upload).
    private let adopted: ObjectInfo?
    /// Whether this writer's `precreate` made the adopted object (a rapid-upload hit), so `abort` removes it.
    private let createdHere: Bool
    private let checkpoint: @Sendable (UploadCheckpoint) -> Void
    private let permits: SlicePermits

    private struct State {
        var done: Set<Int>
        /// The slice being filled (multipart head first), and its index.
        var filling: ByteBuffer?
        var fillIndex = 0
        var written: Int64 = 0
        /// The slice uploads still running, by slice index. A finished upload removes itself: a 4 GB object has
        /// about a thousand slices, and finished tasks kept to the end held about 27 KiB each.
        var uploads: [Int: Task<Void, Never>] = [:]
        var failure: (any Error)?
        var finished = false
    }

    private let state: Mutex<State>

    /// A writer for an open session.
    init(
        backend: BaiduBackend, plan: UploadPlan, session: UploadSessionState,
        checkpoint: @escaping @Sendable (UploadCheckpoint) -> Void
    ) {
        self.backend = backend
        self.plan = plan
        self.session = session
        self.adopted = nil
        self.createdHere = false
        self.checkpoint = checkpoint
        self.permits = SlicePermits(backend.settings.uploadConcurrency)
        self.state = Mutex(State(done: Set(session.done)))
    }

    /// A writer for an object Baidu already holds.
    init(adopted: ObjectInfo, backend: BaiduBackend, plan: UploadPlan, createdHere: Bool) {
        self.backend = backend
        self.plan = plan
        self.session = nil
        self.adopted = adopted
        self.createdHere = createdHere
        self.checkpoint = { _ in }
        self.permits = SlicePermits(1)
        self.state = Mutex(State(done: []))
    }

    var needsBytes: Bool { adopted == nil }

    private var subject: String { plan.name.value }

    // MARK: - Writing (pipeline thread)

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard session != nil else { return }  // nothing to send: Baidu holds the object
        var offset = 0
        while offset < bytes.count {
            if try needsBuffer() {
                permits.acquire()
                let installed = state.withLock { state -> Bool in
                    guard state.failure == nil, !state.finished else { return false }
                    state.filling = SliceFraming.makeBuffer(sliceSize: plan.length(ofSlice: state.fillIndex))
                    return true
                }
                if !installed {
                    permits.release()
                    _ = try needsBuffer()  // throws the failure
                }
            }
            let full: (index: Int, buffer: ByteBuffer)? = try state.withLock { state in
                let remaining = bytes.count - offset
                guard state.written + Int64(remaining) <= plan.digests.size else {
                    throw sourceChanged("more bytes than the \(plan.digests.size) hashed")
                }
                let length = plan.length(ofSlice: state.fillIndex)
                let filled = state.filling!.readableBytes - SliceFraming.head.count
                let take = min(length - filled, remaining)
                state.filling!.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
                state.written += Int64(take)
                offset += take
                guard filled + take == length else { return nil }
                // Closing the framing now, while the buffer has one owner, appends without a copy.
                state.filling!.writeBytes(SliceFraming.tail)
                defer {
                    state.filling = nil
                    state.fillIndex += 1
                }
                return (state.fillIndex, state.filling!)
            }
            if let full { try send(full.index, full.buffer) }
        }
    }

    /// Whether the next bytes need a new slice buffer; throws a recorded failure.
    private func needsBuffer() throws -> Bool {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            if state.finished {
                throw ArchiverError(
                    .internalError, "object \(plan.name) was already committed or aborted", subject: subject)
            }
            return state.filling == nil
        }
    }

    /// Checks a full slice (framed: head, bytes, tail) against its announced MD5, then uploads it in a task (or
    /// drops it when the session already holds it). The slice's buffer slot is given back when the task ends.
    private func send(_ index: Int, _ body: ByteBuffer) throws {
        let start = SliceFraming.head.count
        let md5 = body.withUnsafeReadableBytes { bytes in
            let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<start + plan.length(ofSlice: index)])
            return Hex.encode(Array(Insecure.MD5.hash(data: slice)))
        }
        guard md5 == plan.sliceMD5s[index] else {
            permits.release()
            let error = sourceChanged("slice \(index + 1) of \(plan.sliceCount) differs")
            fail(error)
            throw error
        }
        let alreadyDone = state.withLock { $0.done.contains(index) }
        if alreadyDone {
            permits.release()
            return
        }
        // Made under the lock, so that the task's removal of itself always comes after its insertion.
        state.withLock { state in
            state.uploads[index] = Task { [self, body] in
                defer {
                    _ = self.state.withLock { $0.uploads.removeValue(forKey: index) }
                    permits.release()
                }
                do {
                    try await upload(index, body: body, md5: md5)
                } catch {
                    fail(error)
                }
            }
        }
    }

    private func sourceChanged(_ detail: String) -> ArchiverError {
        ArchiverError(
            .sourceChanged, "the file changed between the hashing pass and the upload (\(detail))", subject: subject)
    }

    /// Records the first failure and stops the other uploads.
    private func fail(_ error: any Error) {
        let uploads = state.withLock { state -> [Task<Void, Never>] in
            guard state.failure == nil else { return [] }
            state.failure = error
            return Array(state.uploads.values)
        }
        uploads.forEach { $0.cancel() }
    }

    // MARK: - Uploading (tasks)

    /// Sends one slice with `superfile2` to the session's host and checks the MD5 Baidu computed.
    private func upload(_ index: Int, body: ByteBuffer, md5: String) async throws {
        guard let session else { return }
        let request = BaiduClient.Request(
            name: "superfile2", base: session.host, path: "/rest/2.0/pcs/superfile2",
            query: [
                ("method", "upload"), ("type", "tmpfile"), ("path", plan.path), ("uploadid", session.uploadid),
                ("partseq", String(index)),
            ],
            method: .POST, body: (body, SliceFraming.contentType), timeout: backend.settings.transferTimeout)
        var attempts = 0
        while true {
            attempts += 1
            let json: JSONValue
            do {
                json = try await backend.client.json(request)
            } catch let error as BaiduAPIError {
                throw ArchiverError(
                    baidu: error, subject: subject, doing: "upload slice \(index + 1) of object \(plan.name)")
            }
            let returned = json["md5"]?.string?.lowercased()
            if returned == md5 { break }
            guard attempts < 3 else {
                throw ArchiverError(
                    .backend,
                    "cannot upload slice \(index + 1) of object \(plan.name): Baidu received bytes with MD5 "
                        + "\(returned ?? "none"), not \(md5), \(attempts) times",
                    subject: subject)
            }
        }
        let saved = state.withLock { state -> UploadSessionState? in
            guard state.failure == nil else { return nil }
            state.done.insert(index)
            var saved = session
            saved.done = state.done.sorted()
            return saved
        }
        if let saved { checkpoint(saved.checkpoint) }
    }

    // MARK: - Commit and abort

    func commit() async throws -> ObjectInfo {
        if let adopted {
            try state.withLock { state in
                if let failure = state.failure { throw failure }
                state.finished = true
            }
            return adopted
        }
        do {
            // The last, partial slice.
            let last: (Int, ByteBuffer)? = try state.withLock { state in
                if let failure = state.failure { throw failure }
                guard state.filling != nil else { return nil }
                let index = state.fillIndex
                guard state.filling!.readableBytes - SliceFraming.head.count == plan.length(ofSlice: index) else {
                    throw sourceChanged("fewer bytes than the \(plan.digests.size) hashed")
                }
                state.filling!.writeBytes(SliceFraming.tail)
                defer {
                    state.filling = nil
                    state.fillIndex += 1
                }
                return (index, state.filling!)
            }
            if let (index, buffer) = last { try send(index, buffer) }
            let (written, uploads) = state.withLock { ($0.written, Array($0.uploads.values)) }
            guard written == plan.digests.size else {
                throw sourceChanged("\(written) bytes instead of the \(plan.digests.size) hashed")
            }
            for upload in uploads { await upload.value }
            if let failure = state.withLock({ $0.failure }) { throw failure }
            let info = try await create()
            state.withLock { $0.finished = true }
            return info
        } catch {
            await abort()
            throw error
        }
    }

    /// `create` with the ordered slice MD5s. A name taken meanwhile is adopted when it holds the same bytes.
    private func create() async throws -> ObjectInfo {
        guard let session else { throw ArchiverError(.internalError, "no upload session", subject: subject) }
        var request = backend.apiRequest("create", path: "/rest/2.0/xpan/file", [("method", "create")])
        request.method = .POST
        request.form = [
            ("path", plan.path), ("size", String(plan.digests.size)), ("isdir", "0"), ("rtype", "0"),
            ("uploadid", session.uploadid), ("block_list", JSONText.strings(plan.sliceMD5s)),
        ]
        let json: JSONValue
        do {
            json = try await backend.client.json(request)
        } catch let error as BaiduAPIError where error.code == -8 || error.code == 31061 {
            return try await backend.adoptExisting(plan, cause: error).commit()
        } catch let error as BaiduAPIError {
            throw ArchiverError(baidu: error, subject: subject, doing: "finish the upload of object \(plan.name)")
        }
        let path = json["path"]?.string ?? plan.path
        guard let name = backend.paths.name(forPath: path) else {
            throw ArchiverError(
                .backend, "Baidu stored object \(plan.name) at \(path), outside \(backend.paths.root)",
                subject: subject)
        }
        let modified = json["mtime"]?.int.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        return ObjectInfo(name: name, size: json["size"]?.int ?? plan.digests.size, modified: modified)
    }

    func abort() async {
        let (uploads, hadBuffer, wasFinished) = state.withLock { state in
            let result = (Array(state.uploads.values), state.filling != nil, state.finished)
            state.finished = true
            state.filling = nil
            state.uploads = [:]
            if state.failure == nil {
                state.failure = ArchiverError(.internalError, "object \(plan.name) was aborted", subject: subject)
            }
            return result
        }
        if hadBuffer { permits.release() }
        for upload in uploads { upload.cancel() }
        for upload in uploads { await upload.value }
        // A rapid-upload hit made the object at once; an aborted writer leaves no trace.
        if createdHere && !wasFinished {
            try? await backend.delete(plan.name)
        }
    }
}
