import ArchiverKit
@testable import Backends
import Foundation
import Glibc
import Synchronization
import Testing

/// The Baidu backend's parts that need no server: redaction, envelopes and error classes, settings, names, the
/// listing walk, upload plans and checkpoints, and the token store's lifecycle over a stub refresher.
@Suite("Baidu without a server")
struct BaiduUnitTests {
    // MARK: Redaction

    @Test("every secret query value is redacted, other parameters stay")
    func redaction() {
        let url =
            "https://openapi.baidu.com/oauth/2.0/token?grant_type=refresh_token&refresh_token=122.abc&client_id=key"
            + "&client_secret=s3cr3t&code=dev123&user_code=ABCD&device_code=keep"
        let redacted = BaiduRedaction.redact(url)
        #expect(
            redacted
                == "https://openapi.baidu.com/oauth/2.0/token?grant_type=refresh_token&refresh_token=REDACTED"
                + "&client_id=key&client_secret=REDACTED&code=REDACTED&user_code=ABCD&device_code=keep")
        let text = "GET https://pan.baidu.com/x?access_token=121.tok&path=%2Fa failed; dlink "
            + "https://d.pcs.baidu.com/file/h?fid=1&sign=ZZZ&expires=8h (see access_token=other)"
        let clean = BaiduRedaction.redact(text)
        for secret in ["121.tok", "ZZZ", "other"] { #expect(!clean.contains(secret)) }
        #expect(clean.contains("path=%2Fa") && clean.contains("expires=8h") && clean.contains("fid=1"))
        // At the text's start, after a newline, a quote or a parenthesis; a value ends at '#', a quote or ')';
        // other text (non-ASCII included) is kept as it was.
        #expect(BaiduRedaction.redact("code=1\nsign=2#frag 'access_token=3' (refresh_token=4) 文件 xsign=5")
            == "code=REDACTED\nsign=REDACTED#frag 'access_token=REDACTED' (refresh_token=REDACTED) 文件 xsign=5")
        #expect(BaiduRedaction.redact("access_token") == "access_token")
        #expect(BaiduRedaction.redact("?sign=") == "?sign=REDACTED")
    }

    // MARK: Envelopes and classes

    @Test("the three error envelopes, show_msg, and request_id as number or string")
    func envelopes() throws {
        func parse(_ text: String, status: Int = 200, call: String = "list") -> BaiduAPIError? {
            BaiduAPIError.from(body: JSONValue.parse(Array(text.utf8)), status: status, call: call)
        }
        let oauth = try #require(
            parse(#"{"error":"expired_token","error_description":"refresh token has been used"}"#, status: 400))
        #expect(oauth.envelope == .oauth && oauth.oauthError == "expired_token" && oauth.code == nil)
        let xpan = try #require(parse(#"{"errno":-6,"errmsg":"auth","request_id":1234567890123456789}"#))
        #expect(xpan.envelope == .xpan && xpan.code == -6 && xpan.requestID == "1234567890123456789")
        let gateway = try #require(parse(#"{"errno":20017,"show_msg":"nas access token invalid"}"#))
        #expect(gateway.code == 20017 && gateway.message == "nas access token invalid")
        let pcs = try #require(
            parse(
                #"{"error_code":31363,"error_msg":"block miss","request_id":"abc"}"#, status: 400, call: "superfile2"))
        #expect(pcs.envelope == .pcs && pcs.code == 31363 && pcs.requestID == "abc")
        let bare = try #require(parse("<html>bad gateway</html>", status: 502))
        #expect(bare.envelope == .http && bare.status == 502)
        #expect(parse(#"{"errno":0,"errmsg":"succ","list":[]}"#) == nil)
        #expect(parse(#"{"md5":"0123","request_id":5}"#, call: "superfile2") == nil)
    }

    @Test("Baidu's codes map to the retry rules")
    func classification() {
        func action(_ code: Int?, call: String = "list", message: String = "", status: Int = 200) -> BaiduErrorAction {
            BaiduErrorAction.classify(
                BaiduAPIError(
                    call: call, envelope: code == nil ? .http : .xpan, code: code, oauthError: nil, message: message,
                    requestID: nil, status: status))
        }
        #expect(action(31034) == .backoff)
        #expect(action(42000) == .backoff)
        #expect(action(nil, status: 503) == .backoff)
        #expect(action(nil, status: 404) == .fail)
        #expect(action(20012) == .longPause && action(17) == .longPause && action(19) == .longPause)
        #expect(action(2) == .retryOnce)
        for code in [-6, 110, 111, 20016, 20017] { #expect(action(code) == .refreshToken, "\(code)") }
        #expect(action(111, call: "filemanager") == .backoff)
        #expect(action(31363) == .uploadExpired && action(31355) == .uploadExpired && action(31190) == .uploadExpired)
        #expect(action(31299, message: "[Param expired_time:1 has expire]") == .uploadExpired)
        #expect(action(31299, message: "Invalid param keylist") == .fail)
        #expect(action(31360) == .refetchLink && action(31362) == .refetchLink)
        #expect(action(-10) == .quota && action(31112) == .quota)
        #expect(action(-7) == .fail && action(31365) == .fail && action(31024) == .fail)
    }

    @Test("user-facing errors: quota stops the run, expiry restarts the object, path and tier rules are named")
    func archiverErrors() {
        func error(_ code: Int, _ message: String = "") -> ArchiverError {
            ArchiverError(
                baidu: BaiduAPIError(
                    call: "create", envelope: .xpan, code: code, oauthError: nil, message: message, requestID: "9",
                    status: 200), subject: "x", doing: "finish the upload of object x")
        }
        #expect(error(-10).code == .quota && error(31112).code == .quota)
        #expect(error(31363).code == .uploadExpired)
        #expect(error(-7).message.contains("/apps/<app name>/"))
        #expect(error(31062).message.contains("emoji"))
        #expect(error(31365).message.contains("tier"))
        #expect(error(31024).message.contains("permission"))
        #expect(error(-8).code == .backend && error(-8).cause is BaiduAPIError)
        #expect(error(-8).message.contains("errno -8") && error(-8).message.contains("request_id 9"))
    }

    // MARK: Settings

    static let settings: [String: String] = [
        "app_name": "e2bdy", "app_key": "k", "secret_key": "s", "token_file": "/tmp/baidu-token.json",
    ]

    @Test("http:// endpoints are refused unless they name this machine", arguments: [
        ("http://127.0.0.1:8080", true), ("http://localhost:1", true), ("http://[::1]:9", true),
        ("https://pan.example.com", true), ("http://pan.baidu.com", false), ("http://10.0.0.1:80", false),
        ("ftp://127.0.0.1", false),
    ])
    func endpoints(_ url: String, _ accepted: Bool) throws {
        var settings = Self.settings
        settings["endpoints.api"] = url
        if accepted {
            #expect(try BaiduSettings(settings, environment: [:]).apiEndpoint == url)
        } else {
            let error = #expect(throws: ArchiverError.self) { try BaiduSettings(settings, environment: [:]) }
            #expect(error?.code == .usage)
            #expect(error?.message.contains("baidu.endpoints.api") == true)
        }
    }

    @Test("missing keys name the setting and the variable; the environment fills them; the root has the subfolder")
    func settingsKeys() throws {
        var settings = Self.settings
        settings["app_key"] = nil
        let error = #expect(throws: ArchiverError.self) { try BaiduSettings(settings, environment: [:]) }
        #expect(error?.code == .usage)
        #expect(error?.message.contains("baidu.app_key") == true && error?.message.contains("BDY_APP_KEY") == true)
        let filled = try BaiduSettings(settings, subfolder: "backups/nas", environment: ["BDY_APP_KEY": "env"])
        #expect(filled.appKey == "env")
        #expect(filled.root == "/apps/e2bdy/backups/nas")
        #expect(filled.loginCommand == "archiver auth baidu")
        #expect(throws: ArchiverError.self) {
            try BaiduSettings(Self.settings, subfolder: "bad:name", environment: [:])
        }
        var lowered = Self.settings
        lowered["upload_concurrency"] = "0"
        #expect(throws: ArchiverError.self) { try BaiduSettings(lowered, environment: [:]) }
    }

    @Test("the registry makes a baidu backend with the tier-0 capabilities before open")
    func registry() throws {
        Backends.registerAll()
        var settings = Self.settings
        settings["slice_size"] = "65536"
        let backend = try BackendRegistry.make(
            spec: "baidu:sub", context: BackendRegistry.Context(baseDirectory: "/", settings: ["baidu": settings]))
        let caps = backend.capabilities
        #expect(caps.sliceSize == 65536 && caps.maxSlices == 1024 && caps.maxObjectSize == 4_000_000_000)
        #expect(caps.needsDigestsBeforeUpload && !caps.allowsEmptyObjects && !caps.caseSensitive)
        #expect(!caps.allowsFourByteUTF8 && !caps.allowsEdgeDotsAndSpaces && caps.forbiddenCharacters.contains(":"))
        #expect(caps.maxPathLength == 1000 - "/apps/e2bdy/sub/".utf8.count)
        #expect(backend.persists)
    }

    @Test("tiers: slices of 4, 16, 32 MiB and 4, 10, 20 GB objects; settings only lower them")
    func tiers() {
        #expect(BaiduTier(vipType: 0).sliceSize == 4 << 20 && BaiduTier(vipType: 0).maxObjectSize == 4_000_000_000)
        #expect(BaiduTier(vipType: 1).sliceSize == 16 << 20 && BaiduTier(vipType: 1).maxObjectSize == 10_000_000_000)
        #expect(BaiduTier(vipType: 2).sliceSize == 32 << 20 && BaiduTier(vipType: 2).maxObjectSize == 20_000_000_000)
        let lowered = BaiduTier(vipType: 1).lowered(sliceSize: 64 << 20, maxObjectSize: 1000)
        #expect(lowered.sliceSize == 16 << 20 && lowered.maxObjectSize == 1000)
    }

    // MARK: Names

    @Test("names Baidu would refuse are refused with the rule")
    func names() throws {
        let paths = BaiduPaths(root: "/apps/e2bdy")
        try paths.check(ObjectName("r/data/ab/0123"))
        for (bad, reason) in [
            ("r/a:b", "':'"), ("r/what?", "'?'"), ("r/.hidden", "dot"), ("r/trail ", "space"),
            ("r/smile\u{1F600}", "emoji"), ("r/" + String(repeating: "x", count: 256), "255"),
        ] {
            let error = #expect(throws: ArchiverError.self) { try paths.check(ObjectName(bad)) }
            #expect(error?.message.contains(reason) == true, "\(bad): \(error?.message ?? "")")
            #expect(error?.subject == bad)
        }
        let long = try ObjectName((0..<100).map { _ in "abcdefghi" }.joined(separator: "/"))
        #expect(throws: ArchiverError.self) { try paths.check(long) }
        #expect(paths.path(try ObjectName("a/b")) == "/apps/e2bdy/a/b")
        #expect(paths.name(forPath: "/apps/e2bdy/a/b")?.value == "a/b")
        #expect(paths.name(forPath: "/apps/other/a") == nil)
        #expect(paths.folder("") == "/apps/e2bdy" && paths.folder("x/y") == "/apps/e2bdy/x/y")
    }

    @Test("form encoding encodes once: slashes, spaces, plus, ampersand, non-ASCII")
    func formEncoding() {
        #expect(
            BaiduHTTP.formEncode([("path", "/apps/e2bdy/a b+c&d=é"), ("block_list", #"["ab"]"#)])
                == "path=%2Fapps%2Fe2bdy%2Fa%20b%2Bc%26d%3D%C3%A9&block_list=%5B%22ab%22%5D")
        #expect(JSONText.strings(["/apps/x\"y"]) == #"["/apps/x\"y"]"#)
        #expect(JSONText.integers([1, 9_007_199_254_740_993]) == "[1,9007199254740993]")
        #expect(BaiduHTTP.secured("http://c3.pcs.baidu.com/x") == "https://c3.pcs.baidu.com/x")
        #expect(BaiduHTTP.secured("http://127.0.0.1:9/x") == "http://127.0.0.1:9/x")
    }

    @Test("JSON keeps 64-bit integers and reads numbers given as strings")
    func json() throws {
        let value = try #require(JSONValue.parse(Array(#"{"fs_id":9007199254740993,"n":"42","f":1.5,"b":true}"#.utf8)))
        #expect(value["fs_id"]?.int == 9_007_199_254_740_993)
        #expect(value["n"]?.int == 42 && value["f"]?.int == nil && value["b"]?.int == 1)
        #expect(JSONValue.parse(Array("not json".utf8)) == nil)
    }

    // MARK: Listing

    /// An in-memory folder tree for the listing walk.
    static func tree(_ names: [String]) -> @Sendable (String) async throws -> [BaiduBackend.Entry]? {
        var folders: [String: [BaiduBackend.Entry]] = ["": []]
        for name in names {
            var folder = ""
            let parts = name.split(separator: "/").map(String.init)
            for (index, part) in parts.enumerated() {
                let isLast = index == parts.count - 1
                if !(folders[folder]?.contains { $0.name == part } ?? false) {
                    folders[folder, default: []].append(
                        BaiduBackend.Entry(name: part, isDirectory: !isLast, size: 3, fsID: 1, modified: nil))
                }
                folder = folder.isEmpty ? part : folder + "/" + part
                if !isLast && folders[folder] == nil { folders[folder] = [] }
            }
        }
        let frozen = folders
        return { folder in frozen[folder].map { $0.shuffled() } }
    }

    @Test("the walk lists in byte order, pages by cursor, filters by prefix, and skips the marker")
    func listing() async throws {
        var names = ["r/data/a-b", "r/data/a/x", "r/data/a0", "r/index/x", "r/dat-x", "r/datum", "elsewhere/x"]
        names += (0..<50).map { "r/data/\(String(format: "%02x", $0 % 7))/obj-\($0)" }
        let listing = BaiduListing(listFolder: Self.tree(names + [RepositoryMarker.fileName]))
        func all(_ prefix: String, limit: Int) async throws -> (names: [String], pages: Int) {
            var result: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await listing.page(prefix: prefix, cursor: cursor, limit: limit)
                pages += 1
                result += page.objects.map(\.name.value)
                cursor = page.nextCursor
            } while cursor != nil
            return (result, pages)
        }
        let sorted = { (names: [String]) in names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
        let data = sorted(names.filter { $0.hasPrefix("r/data/") })
        let listed = try await all("r/data/", limit: 10)
        #expect(listed.names == data)
        #expect(listed.pages == (data.count + 9) / 10)
        #expect(data.firstIndex(of: "r/data/a-b")! < data.firstIndex(of: "r/data/a/x")!)
        #expect(try await all("r/data/0", limit: 3).names == data.filter { $0.hasPrefix("r/data/0") })
        #expect(try await all("", limit: 1000).names == sorted(names))
        #expect(try await all("r/nothing/", limit: 5).names.isEmpty)
        let after = try await listing.page(prefix: "r/data/", cursor: data[20], limit: 5)
        #expect(after.objects.map(\.name.value) == Array(data[21..<26]))
        // A page that ends exactly at the last name says so.
        let last = try await listing.page(prefix: "r/data/", cursor: data[data.count - 3], limit: 2)
        #expect(last.objects.count == 2 && last.nextCursor == nil)
    }

    // MARK: Upload plans and checkpoints

    @Test("upload plans refuse empty, oversized and mis-sliced objects")
    func plans() throws {
        let name = try ObjectName("r/data/x")
        var caps = BackendCapabilities(maxObjectSize: 1000, sliceSize: 100, maxSlices: 5)
        let bytes = [UInt8](repeating: 7, count: 250)
        let digests = UploadDigests(of: bytes, sliceSize: 100)
        let plan = try UploadPlan(name: name, path: "/apps/a/r/data/x", size: 250, digests: digests, capabilities: caps)
        #expect(plan.sliceCount == 3 && plan.length(ofSlice: 2) == 50 && plan.sliceMD5s[0].count == 32)
        let empty = #expect(throws: ArchiverError.self) {
            try UploadPlan(
                name: name, path: "/p", size: 0, digests: UploadDigests(of: [], sliceSize: 100), capabilities: caps)
        }
        #expect(empty?.message.contains("empty") == true && empty?.subject == name.value)
        #expect(throws: ArchiverError.self) {
            try UploadPlan(name: name, path: "/p", size: 250, digests: nil, capabilities: caps)
        }
        caps.sliceSize = 50
        #expect(throws: ArchiverError.self) {
            try UploadPlan(name: name, path: "/p", size: 250, digests: digests, capabilities: caps)
        }
        caps.sliceSize = 100
        caps.maxSlices = 2
        #expect(throws: ArchiverError.self) {
            try UploadPlan(name: name, path: "/p", size: 250, digests: digests, capabilities: caps)
        }
    }

    @Test("checkpoints carry uploadid, host, path, slice size and the slices done")
    func checkpoints() throws {
        let state = UploadSessionState(
            uploadid: "P1-abc", host: "https://c3.pcs.baidu.com", path: "/apps/a/x", sliceSize: 4 << 20, done: [0, 2])
        let checkpoint = state.checkpoint
        #expect(
            checkpoint.state
                == #"{"done":[0,2],"host":"https://c3.pcs.baidu.com","path":"/apps/a/x","slice_size":4194304,"#
                + #""uploadid":"P1-abc"}"#)
        #expect(UploadSessionState(checkpoint) == state)
        #expect(UploadSessionState(UploadCheckpoint(state: "garbage")) == nil)
    }

    @Test("backoff grows, is capped, carries jitter and is scaled")
    func backoff() {
        var policy = RetryPolicy()
        policy.scale = 1
        for retry in 1...10 {
            let delay = policy.backoff(retry: retry)
            let full = min(30.0, pow(2, Double(retry - 1)))
            #expect(delay >= .milliseconds(Int64(full * 500)) && delay <= .milliseconds(Int64(full * 1000)))
        }
        policy.scale = 0.01
        #expect(policy.backoff(retry: 10) <= .milliseconds(300))
        #expect(policy.pause == .milliseconds(1200))
    }
}

/// The token store against a stub refresher: rotation, one refresh at a time, never a refresh token twice, and the
/// login-needed state.
@Suite("Baidu token store")
struct BaiduTokenStoreTests {
    /// A stub of Baidu's refresh endpoint: single-use refresh tokens, like Baidu's.
    final class StubOAuth: Sendable {
        private struct State {
            var valid: Set<String> = []
            var calls: [String] = []
            var counter = 0
            var failure: (any Error)?
        }

        private let state = Mutex(State())

        init(valid: [String]) { state.withLock { $0.valid = Set(valid) } }

        var calls: [String] { state.withLock { $0.calls } }

        func failNext(with error: any Error & Sendable) { state.withLock { $0.failure = error } }

        func refresh(_ token: String) async throws -> TokenGrant {
            try await Task.sleep(for: .milliseconds(20))
            return try state.withLock { state in
                state.calls.append(token)
                if let failure = state.failure {
                    state.failure = nil
                    throw failure
                }
                guard state.valid.remove(token) != nil else {
                    throw BaiduAPIError(
                        call: "token", envelope: .oauth, code: nil, oauthError: "expired_token",
                        message: "refresh token has been used", requestID: nil, status: 400)
                }
                state.counter += 1
                let next = "refresh-\(state.counter)"
                state.valid.insert(next)
                return TokenGrant(
                    accessToken: "access-\(state.counter)", refreshToken: next, expiresIn: 2_592_000,
                    scope: "basic netdisk")
            }
        }
    }

    let folder: String
    let path: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.path + "/baidu-tokens-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/token.json"
    }

    /// Writes a pair granted for 30 days that has `expiresIn` seconds left.
    func writeTokens(access: String, refresh: String, expiresIn: Int64) throws {
        let now = Int64(Date().timeIntervalSince1970)
        let tokens = TokenStore.Tokens(
            TokenGrant(accessToken: access, refreshToken: refresh, expiresIn: 2_592_000, scope: nil),
            now: now - 2_592_000 + expiresIn)
        try TokenFiles.writeAtomically(Array(try JSONEncoder().encode(tokens)), to: path)
    }

    func store(_ stub: StubOAuth) -> TokenStore {
        TokenStore(path: path, loginCommand: "archiver auth baidu --config /c.yaml") { try await stub.refresh($0) }
    }

    func onDisk() throws -> TokenStore.Tokens {
        try JSONDecoder().decode(TokenStore.Tokens.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("a token about to expire is refreshed once and the new pair is on disk, mode 0600, before it is used")
    func refreshAhead() async throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeTokens(access: "old", refresh: "r0", expiresIn: 3600)
        let stub = StubOAuth(valid: ["r0"])
        let store = store(stub)
        #expect(try await store.accessToken() == "access-1")
        #expect(try await store.accessToken() == "access-1")
        #expect(stub.calls == ["r0"])
        #expect(try onDisk().refreshToken == "refresh-1" && onDisk().accessToken == "access-1")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".tmp-") }.isEmpty)
    }

    @Test("concurrent refreshes of one rejected token send one refresh; a pair another process wrote is used")
    func singleFlight() async throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeTokens(access: "a0", refresh: "r0", expiresIn: 2_592_000)
        let stub = StubOAuth(valid: ["r0"])
        let first = store(stub)
        let second = store(stub)  // another process's store over the same file
        async let one = first.refresh(rejected: "a0")
        async let two = second.refresh(rejected: "a0")
        let tokens = try await [one, two]
        #expect(tokens == ["access-1", "access-1"])
        #expect(stub.calls == ["r0"])
        // Another process refreshed behind our back: its pair is used, nothing is sent.
        try writeTokens(access: "theirs", refresh: "their-refresh", expiresIn: 2_592_000)
        #expect(try await first.refresh(rejected: "access-1") == "theirs")
        #expect(stub.calls == ["r0"])
    }

    @Test("a refused refresh writes login-needed and never loops; a login clears it")
    func refusal() async throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeTokens(access: "a0", refresh: "used", expiresIn: 2_592_000)
        let stub = StubOAuth(valid: [])
        let store = store(stub)
        let error = await #expect(throws: ArchiverError.self) { try await store.refresh(rejected: "a0") }
        #expect(error?.code == .loginNeeded)
        #expect(
            error?.message
                == "Baidu refused the saved login (expired_token: refresh token has been used). Log in again: "
                + "archiver auth baidu --config /c.yaml")
        #expect(FileManager.default.fileExists(atPath: path + ".login-needed"))
        #expect(store.loginNeededReason()?.contains("expired_token") == true)
        // No further refresh, and no further call at all.
        let again = await #expect(throws: ArchiverError.self) { try await store.accessToken() }
        #expect(again?.code == .loginNeeded)
        #expect(stub.calls == ["used"])
        try await store.save(TokenGrant(accessToken: "new", refreshToken: "r9", expiresIn: 2_592_000, scope: nil))
        #expect(!FileManager.default.fileExists(atPath: path + ".login-needed"))
        #expect(try await store.accessToken() == "new")
    }

    @Test("a refresh token whose refresh failed on the way is not sent again in this process")
    func neverTwice() async throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeTokens(access: "a0", refresh: "r0", expiresIn: 2_592_000)
        let stub = StubOAuth(valid: ["r0"])
        stub.failNext(with: BaiduHTTP.TransportError(call: "token", detail: "connection reset"))
        let store = store(stub)
        let first = await #expect(throws: ArchiverError.self) { try await store.refresh(rejected: "a0") }
        #expect(first?.code == .backend)
        let second = await #expect(throws: ArchiverError.self) { try await store.refresh(rejected: "a0") }
        #expect(second?.code == .backend)
        #expect(second?.message.contains("never sent twice") == true)
        #expect(stub.calls == ["r0"])
    }

    @Test("no token file: login needed, with the command")
    func noLogin() async throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = store(StubOAuth(valid: []))
        let error = await #expect(throws: ArchiverError.self) { try await store.accessToken() }
        #expect(error?.code == .loginNeeded && error?.message.contains("archiver auth baidu --config /c.yaml") == true)
    }
}
