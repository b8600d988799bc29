import Foundation

/// Everything the fake remembers: tokens, device logins, upload sessions, files, download links, counters
/// and injected faults. One actor, so every rule is checked against one consistent picture; disk work on
/// big contents (slices, assembling files) happens outside it.
actor FakeState {
    let clientID: String
    let clientSecret: String
    let appName: String
    let store: BlobStore
    /// `http://127.0.0.1:PORT`, known once the server listens.
    var baseURL = ""
    var settings: Settings
    var stats = Stats()
    var faults: [Fault] = []
    var buckets: [String: TokenBucket] = [:]

    var accessTokens: [String: Double] = [:]
    var refreshTokens: [String: RefreshState] = [:]
    var deviceLogins: [String: DeviceLogin] = [:]

    var entries: [String: Entry] = [:]
    var children: [String: Set<String>] = [:]
    var pathsByID: [Int: String] = [:]
    var used = 0
    var nextFsID = 400_000_000_000_001
    var sessions: [String: UploadSession] = [:]
    var sessionCounter = 0
    var links: [String: DownloadLink] = [:]

    let uk = 2_882_303_761

    init(options: Options, store: BlobStore) {
        clientID = options.clientID
        clientSecret = options.clientSecret
        appName = options.appName
        settings = options.settings
        self.store = store
        appRoot = "/apps/\(options.appName)"
        let now = Self.now
        entries["/"] = Entry(
            fsID: 0, path: "/", isDir: true, ctime: now, mtime: now, localCtime: now, localMtime: now)
    }

    /// The folder third-party writes are confined to.
    let appRoot: String

    /// Creates the app's folder, as after the app's first authorization.
    func prepare() {
        makeFolders(appRoot, now: Self.now)
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }
    static var clock: Double { Date().timeIntervalSince1970 }

    func setBaseURL(_ url: String) {
        baseURL = url
    }

    // MARK: Access tokens

    enum TokenStatus { case valid, missing, invalid, expired }

    func tokenStatus(_ token: String?) -> TokenStatus {
        guard let token, !token.isEmpty else { return .missing }
        guard let expiresAt = accessTokens[token] else { return .invalid }
        return expiresAt > Self.clock ? .valid : .expired
    }

    func expireAccessTokens() {
        let past = Self.clock - 1
        for token in accessTokens.keys { accessTokens[token] = past }
    }

    /// A fresh access/refresh pair, as Baidu's token endpoint returns it.
    func grant() -> JSON {
        let access = "121.\(Self.randomHex(32)).\(settings.tokenLifetime).fake.\(uk)"
        let refresh = "122.\(Self.randomHex(32)).315360000.fake.\(uk)"
        accessTokens[access] = Self.clock + Double(settings.tokenLifetime)
        refreshTokens[refresh] = .live
        return [
            "access_token": .string(access), "refresh_token": .string(refresh),
            "expires_in": .int(settings.tokenLifetime), "scope": "basic netdisk", "session_key": "",
            "session_secret": "",
        ]
    }

    // MARK: Counters, faults, throttling

    func countRequest() {
        stats.requests += 1
    }

    func resetStats() {
        stats = Stats()
    }

    func addFault(_ fault: Fault) {
        faults.append(fault)
    }

    func clearFaults() {
        faults.removeAll()
    }

    /// The first armed fault for `endpoint` (or `any`), consumed.
    func takeFault(for endpoints: [String]) -> Fault.Kind? {
        guard let index = faults.firstIndex(where: { endpoints.contains($0.endpoint) || $0.endpoint == "any" })
        else { return nil }
        let kind = faults[index].kind
        faults[index].remaining -= 1
        if faults[index].remaining <= 0 { faults.remove(at: index) }
        return kind
    }

    /// Whether a request to `endpoint` fits its per-endpoint token bucket (`--rate-limit` per second).
    func admit(_ endpoint: String) -> Bool {
        let rate = settings.rateLimit
        guard rate > 0 else { return true }
        let now = Self.clock
        var bucket = buckets[endpoint] ?? TokenBucket(tokens: Double(rate), last: now)
        let admitted = bucket.take(rate: rate, now: now)
        buckets[endpoint] = bucket
        if !admitted { stats.throttled += 1 }
        return admitted
    }

    // MARK: Helpers

    static func randomHex(_ count: Int) -> String {
        (0..<count).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    }

    func takeFsID() -> Int {
        defer { nextFsID += 1 }
        return nextFsID
    }

    /// Whether a write to `path` stays inside the app's folder.
    func isWritable(_ path: String) -> Bool {
        RemotePath.isInside(path, appRoot)
    }
}
