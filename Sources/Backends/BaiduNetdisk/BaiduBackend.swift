public import ArchiverKit
import Foundation
import Logging
import NIOHTTP1
import Synchronization

/// Baidu Netdisk (`baidu:` or `baidu:SUBFOLDER`): objects live under `/apps/<app name>/[SUBFOLDER/]`.
///
/// Uploads are hashes first (Baidu's `precreate` wants every slice's MD5 before the first byte): the core hashes,
/// then regenerates the bytes, which go up in slices of the account tier's size, in parallel, to the host
/// `locateupload` names, and become visible with `create`. Sessions resume slice by slice from the core's
/// checkpoints. Nothing is ever written to a temporary file. Downloads follow the dlink's redirect and read in
/// ranged chunks. Deletes go to Baidu's recycle bin (they count against the quota until it is emptied).
///
/// Baidu must be reached over HTTPS; `http://` endpoints are accepted only on this machine (the tests' fake).
public final class BaiduBackend: RemoteBackend {
    /// The spec scheme, `baidu`.
    public static let scheme = "baidu"

    public let spec: String
    let settings: BaiduSettings
    let client: BaiduClient
    let paths: BaiduPaths
    let logger: Logger

    private struct State {
        /// The tier's limits, from `uinfo` once `open()` or `initialize(marker:)` ran.
        var tier: BaiduTier
        /// Folders known to exist, so each is made once.
        var folders: Set<String> = []
    }

    private let state: Mutex<State>

    /// Creates a backend from the argument of a `baidu:` spec.
    /// - Parameters:
    ///   - argument: an optional subfolder of `/apps/<app name>/`.
    ///   - context: the registry context; `context.settings["baidu"]` holds the settings.
    /// - Throws: `ArchiverError(.usage)` when a setting is missing or wrong.
    public convenience init(argument: String, context: BackendRegistry.Context) throws {
        let subfolder = argument.trimmingCharacters(in: .whitespaces)
        let settings = try BaiduSettings(context.settings["baidu"] ?? [:], subfolder: subfolder)
        self.init(settings: settings, spec: "\(Self.scheme):\(subfolder)")
    }

    init(settings: BaiduSettings, spec: String, logger: Logger = Logger(label: "archiver.baidu")) {
        self.spec = spec
        self.settings = settings
        self.logger = logger
        self.paths = BaiduPaths(root: settings.root)
        self.client = BaiduClient(settings: settings, tokens: BaiduLogin.store(settings), logger: logger)
        let tier = BaiduTier(vipType: 0).lowered(
            sliceSize: settings.sliceSizeLimit, maxObjectSize: settings.maxObjectSizeLimit)
        self.state = Mutex(State(tier: tier))
    }

    /// The tier's limits once the account was read (`open()`, `initialize(marker:)`); before that a normal
    /// account's, lowered by `slice_size` and `max_object_size`.
    public var capabilities: BackendCapabilities {
        let tier = state.withLock { $0.tier }
        return BackendCapabilities(
            maxObjectSize: tier.maxObjectSize, sliceSize: tier.sliceSize, maxSlices: tier.maxSlices,
            needsDigestsBeforeUpload: true, allowsEmptyObjects: false, supportsRangeReads: true, caseSensitive: false,
            maxNameLength: BaiduPaths.maxNameLength, maxPathLength: paths.maxNameLength,
            forbiddenCharacters: BaiduPaths.forbidden, allowsFourByteUTF8: false, allowsEdgeDotsAndSpaces: false)
    }

    var tier: BaiduTier { state.withLock { $0.tier } }

    // MARK: - Repository

    public func open() async throws -> RepositoryMarker {
        try await readAccount()
        guard let marker = try await readMarker() else {
            throw ArchiverError(
                .targetUnavailable,
                "\(paths.root) is not an archiver repository (Baidu Netdisk holds no \(RepositoryMarker.fileName) "
                    + "there): check baidu.app_name and the spec \(spec), or run `archiver init`",
                subject: paths.root)
        }
        return marker
    }

    /// Reads the account, creates the root folder (and missing folders above it) and writes the marker.
    public func initialize(marker: RepositoryMarker) async throws {
        try await readAccount()
        if let existing = try await readMarker() {
            throw ArchiverError(
                .backend, "\(paths.root) is already an archiver repository (id \(existing.id))", subject: paths.root)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var bytes = [UInt8](try encoder.encode(marker))
        bytes.append(0x0A)
        let name = try ObjectName(RepositoryMarker.fileName)
        let writer = try await openWriter(
            for: name, size: Int64(bytes.count),
            digests: UploadDigests(of: bytes, sliceSize: capabilities.sliceSize ?? 4 << 20))
        do {
            try bytes.withUnsafeBytes { try writer.write($0) }
            _ = try await writer.commit()
        } catch let error as ArchiverError where error.message.contains("already exists") {
            await writer.abort()
            let id = (try? await readMarker())?.id ?? "unreadable marker"
            throw ArchiverError(
                .backend, "\(paths.root) is already an archiver repository (id \(id))", subject: paths.root,
                cause: error)
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// The marker, or nil when the root or the marker is missing.
    private func readMarker() async throws -> RepositoryMarker? {
        let name = try ObjectName(RepositoryMarker.fileName)
        guard let entry = try await entry(for: name), entry.size <= 64 * 1024 else { return nil }
        let reader = try await openReader(entry, name: name, range: 0..<entry.size)
        let bytes: [UInt8]
        do {
            bytes = try await offload {
                var bytes = [UInt8](repeating: 0, count: Int(entry.size))
                let count = try bytes.withUnsafeMutableBytes { try reader.readFull(into: $0) }
                return Array(bytes[0..<count])
            }
            await reader.close()
        } catch {
            await reader.close()
            throw error
        }
        do {
            return try JSONDecoder().decode(RepositoryMarker.self, from: Data(bytes))
        } catch {
            throw ArchiverError(
                .backend,
                "\(paths.root)/\(RepositoryMarker.fileName) is damaged and cannot be read as a repository marker "
                    + "(\(error)). Restore it from a copy of this repository; do not re-initialise a target that "
                    + "holds backups.",
                subject: paths.root)
        }
    }

    // MARK: - Account

    /// Reads the tier (`uinfo`) and the free space (`quota`); sets the capabilities.
    /// - Throws: `ArchiverError(.quota)` when the disk is full.
    func readAccount() async throws {
        try await readTier()
        let quota = try await readQuota()
        if quota.free <= 0 {
            throw ArchiverError(
                .quota,
                "Baidu Netdisk is full (\(quota.used) of \(quota.total) bytes used); free space or upgrade the "
                    + "account, then run again",
                subject: paths.root)
        }
    }

    /// Reads the member tier (`uinfo`) and sets the capabilities from it.
    @discardableResult
    private func readTier() async throws -> BaiduTier {
        let info = try await call(
            apiRequest("uinfo", path: "/rest/2.0/xpan/nas", [("method", "uinfo")]), doing: "read the Baidu account")
        let tier = BaiduTier(vipType: Int(info["vip_type"]?.int ?? 0)).lowered(
            sliceSize: settings.sliceSizeLimit, maxObjectSize: settings.maxObjectSizeLimit)
        state.withLock { $0.tier = tier }
        return tier
    }

    private func readQuota() async throws -> (total: Int64, used: Int64, free: Int64) {
        let json = try await call(
            apiRequest("quota", path: "/api/quota", [("checkfree", "1"), ("checkexpire", "1")]),
            doing: "read the Baidu quota")
        let total = json["total"]?.int ?? 0
        let used = json["used"]?.int ?? 0
        return (total, used, json["free"]?.int ?? (total - used))
    }

    /// Login-needed from the marker file, and the tier and quota when they come quickly.
    public func status() async -> BackendStatus {
        if let reason = client.tokens.loginNeededReason() {
            return BackendStatus(loginNeeded: reason)
        }
        var notes: [String] = []
        do {
            let tier = try await readTier()
            notes.append(
                "Baidu \(tier.name): slices of \(tier.sliceSize) bytes, objects up to \(tier.maxObjectSize) bytes")
            let quota = try await readQuota()
            notes.append(
                "Baidu quota: \(quota.used) of \(quota.total) bytes used, \(quota.free) free"
                    + (quota.free <= 0 ? " (full: backups stop until space is freed)" : ""))
        } catch let error as ArchiverError where error.code == .loginNeeded {
            return BackendStatus(loginNeeded: error.message, notes: notes)
        } catch {
            notes.append("Baidu account not readable: \(BaiduRedaction.redact(String(describing: error)))")
        }
        return BackendStatus(notes: notes)
    }

    // MARK: - Calls

    typealias Request = BaiduClient.Request

    /// A GET on the API host (`pan.baidu.com`).
    func apiRequest(_ name: String, path: String, _ query: [(String, String)]) -> Request {
        Request(name: name, base: settings.apiEndpoint, path: path, query: query)
    }

    /// Makes an API call, turning Baidu's refusals into `ArchiverError`s.
    func call(_ request: Request, subject: String? = nil, doing: String) async throws -> JSONValue {
        do {
            return try await client.json(request)
        } catch let error as BaiduAPIError {
            throw ArchiverError(baidu: error, subject: subject, doing: doing)
        }
    }

    /// Creates a folder and any missing folder above it (below `/apps/<app>`), each once per process.
    /// - Parameter path: an absolute folder path.
    func ensureFolder(_ path: String) async throws {
        if state.withLock({ $0.folders.contains(path) }) { return }
        let app = "/apps/\(settings.appName)"
        var chain: [String] = []
        var current = path
        while current.count >= app.count {
            chain.insert(current, at: 0)
            if current == app { break }
            current = (current as NSString).deletingLastPathComponent
        }
        for folder in chain where !state.withLock({ $0.folders.contains(folder) }) {
            var request = apiRequest("create", path: "/rest/2.0/xpan/file", [("method", "create")])
            request.method = .POST
            request.form = [("path", folder), ("isdir", "1"), ("rtype", "0"), ("size", "0"), ("block_list", "[]")]
            do {
                _ = try await client.json(request)
            } catch let error as BaiduAPIError where error.code == -8 || error.code == 31061 {
                // It exists already.
            } catch let error as BaiduAPIError {
                throw ArchiverError(baidu: error, subject: folder, doing: "create the folder \(folder)")
            }
            _ = state.withLock { $0.folders.insert(folder) }
        }
    }

    /// Forgets that a folder exists (it was found missing).
    func forgetFolders() {
        state.withLock { $0.folders.removeAll() }
    }
}

