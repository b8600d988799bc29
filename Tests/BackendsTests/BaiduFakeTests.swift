import ArchiverTestSupport
import Crypto
import Foundation
import Testing

/// The fake Baidu server's enforcement, spoken to over real HTTP: if the fake is lax, the backend's tests
/// prove nothing, so these pin the rules of section 9 of the API notes that the backend relies on.
@Suite("Baidu fake server")
struct BaiduFakeTests {
    // MARK: OAuth

    @Test("device flow: pending, slow_down, approval, single-use code, decline, expiry")
    func deviceFlow() throws {
        let fake = try FakeBaidu.start(["--device-interval", "1"])
        defer { fake.stop() }
        let codes = try fake.request(
            "GET", "/oauth/2.0/device/code?response_type=device_code&client_id=test-app-key&scope=basic,netdisk"
        ).object
        #expect(codes["interval"] as? Int == 1)
        #expect(codes["expires_in"] as? Int == 300)
        let deviceCode = try #require(codes["device_code"] as? String)
        let userCode = try #require(codes["user_code"] as? String)
        let poll =
            "/oauth/2.0/token?grant_type=device_token&code=\(deviceCode)&client_id=test-app-key&client_secret=test-secret-key"

        let pending = try fake.request("GET", poll)
        #expect(pending.status == 400)
        #expect(pending.object["error"] as? String == "authorization_pending")
        #expect(try fake.request("GET", poll).object["error"] as? String == "slow_down")

        try fake.control("device/approve", ["user_code": userCode])
        Thread.sleep(forTimeInterval: 1.1)
        let granted = try fake.request("POST", poll)
        #expect(granted.status == 200)
        #expect(granted.object["access_token"] is String)
        #expect(granted.object["refresh_token"] is String)
        #expect(granted.object["expires_in"] as? Int == 2_592_000)
        #expect(granted.object["scope"] as? String == "basic netdisk")
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try fake.request("GET", poll).object["error"] as? String == "invalid_grant")

        let declined = try fake.request(
            "GET", "/oauth/2.0/device/code?response_type=device_code&client_id=test-app-key&scope=basic,netdisk"
        ).object
        try fake.control("device/deny", ["user_code": try #require(declined["user_code"] as? String)])
        let denial = try fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=device_token&code=\(try #require(declined["device_code"] as? String))&client_id=test-app-key&client_secret=test-secret-key"
        )
        #expect(denial.object["error"] as? String == "authorization_declined")

        try fake.control("config", ["device_expires_in": 0])
        let expired = try fake.request("GET", "/oauth/2.0/device/code?response_type=device_code&client_id=test-app-key")
            .object
        let late = try fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=device_token&code=\(try #require(expired["device_code"] as? String))&client_id=test-app-key&client_secret=test-secret-key"
        )
        #expect(late.object["error"] as? String == "expired_token")
        #expect(try fake.stats()["token_grants"] == 1)
    }

    @Test("refresh tokens rotate; reuse is expired_token; a failed refresh revokes the token")
    func refreshRotation() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let first = try fake.issueToken()
        let refreshed = try fake.request(
            "POST", "/oauth/2.0/token", headers: Self.formType,
            body: Self.form([
                "grant_type": "refresh_token", "refresh_token": first.refresh, "client_id": "test-app-key",
                "client_secret": "test-secret-key",
            ])
        ).object
        let second = try #require(refreshed["refresh_token"] as? String)
        #expect(second != first.refresh)
        let access = try #require(refreshed["access_token"] as? String)
        #expect(
            try fake.request("GET", "/rest/2.0/xpan/nas?method=uinfo&access_token=\(access)").object["errno"] as? Int
                == 0)

        let reuse = try fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=refresh_token&refresh_token=\(first.refresh)&client_id=test-app-key&client_secret=test-secret-key"
        )
        #expect(reuse.status == 400)
        #expect(reuse.object["error"] as? String == "expired_token")
        #expect(reuse.object["error_description"] as? String == "refresh token has been used")

        let wrongSecret = try fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=refresh_token&refresh_token=\(second)&client_id=test-app-key&client_secret=nope"
        )
        #expect(wrongSecret.object["error"] as? String == "invalid_client")
        let afterFailure = try fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=refresh_token&refresh_token=\(second)&client_id=test-app-key&client_secret=test-secret-key"
        )
        #expect(afterFailure.object["error"] as? String == "invalid_grant")
        #expect(try fake.stats()["refresh"] == 1)
    }

    @Test("an expired access token: errno -6 on xpan, 111 with HTTP 401 on PCS, 31045 on a dlink")
    func expiredAccessToken() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let data = Self.bytes(1000)
        let fsID = try client.upload(data, to: "/apps/e2bdy/a.bin")
        let dlink = try client.dlink(fsID)
        try fake.control("expire-access-tokens", [:])

        let uinfo = try client.get("/rest/2.0/xpan/nas", ["method": "uinfo"])
        #expect(uinfo.status == 200)
        #expect(uinfo.object["errno"] as? Int == -6)
        #expect(uinfo.object["request_id"] != nil)
        let locate = try client.get("/rest/2.0/pcs/file", ["method": "locateupload", "path": "/apps/e2bdy/b.bin"])
        #expect(locate.status == 401)
        #expect(locate.object["error_code"] as? Int == 111)
        let download = try fake.request(
            "GET", dlink + "&access_token=\(client.token)", headers: ["User-Agent": "pan.baidu.com"])
        #expect(download.status == 401)
        #expect(download.object["error_code"] as? Int == 31045)
        let unknown = try fake.request("GET", "/rest/2.0/pcs/file?method=locateupload&access_token=nonsense")
        #expect(unknown.status == 401)
        #expect(unknown.object["error_code"] as? Int == 110)
    }

    // MARK: Upload

    @Test("precreate, out-of-order superfile2, create, then the download equals the bytes (also by Range)")
    func roundTrip() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let data = Self.bytes(9 << 20 + 777)
        let slices = Self.slices(data, size: 4 << 20)
        let path = "/apps/e2bdy/nested/dir/file one+two.bin"
        let precreate = try client.precreate(path, size: data.count, blockList: slices.map(\.md5))
        #expect(precreate["return_type"] as? Int == 1)
        #expect(precreate["block_list"] as? [Int] == [0, 1, 2])
        let uploadID = try #require(precreate["uploadid"] as? String)
        for index in [2, 0, 1] {
            let answer = try client.superfile2(path, uploadID: uploadID, partseq: index, slices[index].bytes)
            #expect(answer.status == 200)
            #expect(answer.object["md5"] as? String == slices[index].md5)
        }
        let created = try client.create(path, size: data.count, blockList: slices.map(\.md5), uploadID: uploadID)
        #expect(created["errno"] as? Int == 0)
        #expect(created["path"] as? String == path)
        #expect(created["size"] as? Int == data.count)
        let cloudMD5 = try #require(created["md5"] as? String)
        #expect(cloudMD5 != Self.md5(data))
        let fsID = try #require(created["fs_id"] as? Int)

        let listed = try client.get("/rest/2.0/xpan/file", ["method": "list", "dir": "/apps/e2bdy/nested/dir"]).object
        let items = try #require(listed["list"] as? [[String: Any]])
        #expect(items.count == 1)
        #expect(items.first?["server_filename"] as? String == "file one+two.bin")
        #expect(items.first?["md5"] as? String == cloudMD5)
        #expect(listed["has_more"] == nil)

        let dlink = try client.dlink(fsID)
        let redirect = try fake.request(
            "GET", dlink + "&access_token=\(client.token)", headers: ["User-Agent": "pan.baidu.com"])
        #expect(redirect.status == 302)
        let location = try #require(redirect.headers["location"])
        #expect(location.contains("/cdn/"))
        let whole = try fake.request("GET", location, headers: ["User-Agent": "pan.baidu.com"])
        #expect(whole.status == 200)
        #expect(whole.body == data)
        #expect(whole.headers["content-md5"] == Self.md5(data))
        #expect(whole.headers["content-length"] == String(data.count))
        let part = try fake.request("GET", location, headers: ["Range": "bytes=100-4194403"])
        #expect(part.status == 206)
        #expect(part.headers["content-range"] == "bytes 100-4194403/\(data.count)")
        #expect(part.body == data[100..<4_194_404])

        #expect(try client.get("/api/quota", [:]).object["used"] as? Int == data.count)
        let files = try #require(try fake.control("files") as? [[String: Any]])
        #expect(files.first?["md5"] as? String == Self.md5(data))
        let stats = try fake.stats()
        #expect(stats["superfile2"] == 3)
        #expect(stats["bytes_received"] == data.count)
        #expect(stats["downloads"] == 2)
    }

    @Test("create refuses a wrong block_list, a missing slice, a wrong size and an unknown uploadid")
    func strictCreate() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let data = Self.bytes(8 << 20 + 5)
        let slices = Self.slices(data, size: 4 << 20)
        let path = "/apps/e2bdy/strict.bin"
        let uploadID = try #require(
            try client.precreate(path, size: data.count, blockList: slices.map(\.md5))["uploadid"] as? String)
        for index in [0, 2] {
            _ = try client.superfile2(path, uploadID: uploadID, partseq: index, slices[index].bytes)
        }
        let missing = try client.create(path, size: data.count, blockList: slices.map(\.md5), uploadID: uploadID)
        #expect(missing["errno"] as? Int == 31363)
        let again = try client.precreate(path, size: data.count, blockList: slices.map(\.md5), uploadID: uploadID)
        #expect(again["block_list"] as? [Int] == [1])
        _ = try client.superfile2(path, uploadID: uploadID, partseq: 1, slices[1].bytes)

        let reversed = try client.create(
            path, size: data.count, blockList: slices.map(\.md5).reversed(), uploadID: uploadID)
        #expect(reversed["errno"] as? Int == 31190)
        let wrongSize = try client.create(path, size: data.count - 1, blockList: slices.map(\.md5), uploadID: uploadID)
        #expect(wrongSize["errno"] as? Int == 31190)
        let unknown = try client.create(path, size: data.count, blockList: slices.map(\.md5), uploadID: "P1-nonsense")
        #expect(unknown["errno"] as? Int == 31355)
        let otherPath = try client.create(
            "/apps/e2bdy/other.bin", size: data.count, blockList: slices.map(\.md5), uploadID: uploadID)
        #expect(otherPath["errno"] as? Int == 31355)
        #expect(
            try client.create(path, size: data.count, blockList: slices.map(\.md5), uploadID: uploadID)["errno"] as? Int
                == 0)
        let reused = try client.superfile2(path, uploadID: uploadID, partseq: 0, slices[0].bytes)
        #expect(reused.object["error_code"] as? Int == 31299)
    }

    @Test("rapid upload: return_type 2 only when content-md5 and slice-md5 both match")
    func rapidUpload() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let data = Self.bytes(600_000)
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("rapid-\(UUID().uuidString)")
        try data.write(to: source)
        defer { try? FileManager.default.removeItem(at: source) }
        try fake.control("put", ["path": "/apps/e2bdy/original.bin", "source": source.path])

        let placeholder = ["5910a591dd8fc18c32a8f3df4fdc1761"]
        let contentOnly = try client.precreate(
            "/apps/e2bdy/copy.bin", size: data.count, blockList: placeholder, extra: ["content-md5": Self.md5(data)])
        #expect(contentOnly["return_type"] as? Int == 1)
        let hit = try client.precreate(
            "/apps/e2bdy/copy.bin", size: data.count, blockList: placeholder,
            extra: ["content-md5": Self.md5(data), "slice-md5": Self.md5(data.prefix(256 * 1024))])
        #expect(hit["return_type"] as? Int == 2)
        let info = try #require(hit["info"] as? [String: Any])
        #expect(info["path"] as? String == "/apps/e2bdy/copy.bin")
        #expect(info["size"] as? Int == data.count)
        let stats = try fake.stats()
        #expect(stats["rapid_hits"] == 1)
        #expect(stats["superfile2"] == 0)
        let files = try #require(try fake.control("files") as? [[String: Any]])
        #expect(files.compactMap { $0["path"] as? String } == ["/apps/e2bdy/copy.bin", "/apps/e2bdy/original.bin"])
    }

    @Test("refusals: zero bytes, emoji and forbidden names, writes outside the app folder")
    func pathAndSizeRules() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let md5 = [Self.md5(Data("x".utf8))]
        #expect(try client.precreate("/apps/e2bdy/empty.bin", size: 0, blockList: md5)["errno"] as? Int == 2)
        #expect(try client.precreate("/apps/e2bdy/smile😀.bin", size: 1, blockList: md5)["errno"] as? Int == 31062)
        #expect(try client.precreate("/apps/e2bdy/a:b.bin", size: 1, blockList: md5)["errno"] as? Int == 31062)
        #expect(try client.precreate("/apps/e2bdy/.hidden", size: 1, blockList: md5)["errno"] as? Int == 31062)
        #expect(try client.precreate("/elsewhere/x.bin", size: 1, blockList: md5)["errno"] as? Int == -7)
        let outside = try client.superfile2("/elsewhere/x.bin", uploadID: "P1-x", partseq: 0, Data("x".utf8))
        #expect(outside.status == 403)
        #expect(outside.object["error_code"] as? Int == 31064)
        let malformed = try client.post(
            "/rest/2.0/xpan/file", ["method": "precreate"],
            [
                "path": "/apps/e2bdy/x.bin", "size": "1", "isdir": "0", "autoinit": "1", "block_list": "[not json",
            ])
        #expect(malformed.object["errno"] as? Int == 2)
    }

    @Test("tier rules: slice too big 31364, short middle slice 31299, file too big 31365 at create, quota -10")
    func tierRules() throws {
        let fake = try FakeBaidu.start(["--max-file-size", "9000000"])
        defer { fake.stop() }
        let client = try Client(fake)
        let data = Self.bytes(9 << 20)
        let path = "/apps/e2bdy/big.bin"
        let slices = Self.slices(data, size: 4 << 20)
        let uploadID = try #require(
            try client.precreate(path, size: data.count, blockList: slices.map(\.md5))["uploadid"] as? String)
        let tooBig = try client.superfile2(path, uploadID: uploadID, partseq: 0, data.prefix(5 << 20))
        #expect(tooBig.object["error_code"] as? Int == 31364)
        let short = try client.superfile2(path, uploadID: uploadID, partseq: 0, data.prefix(1 << 20))
        #expect(short.object["error_code"] as? Int == 31299)
        for (index, slice) in slices.enumerated() {
            #expect(try client.superfile2(path, uploadID: uploadID, partseq: index, slice.bytes).status == 200)
        }
        let created = try client.create(path, size: data.count, blockList: slices.map(\.md5), uploadID: uploadID)
        #expect(created["errno"] as? Int == 31365)

        try fake.control("config", ["quota_total": 1000])
        #expect(
            try client.precreate("/apps/e2bdy/q.bin", size: 1001, blockList: [slices[0].md5])["errno"] as? Int == -10)
    }

    @Test("rtype 0 conflicts with -8, 1 renames to name(1).ext, 3 overwrites; mkdir gives category 6")
    func namingPolicies() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let path = "/apps/e2bdy/docs/report.txt"
        _ = try client.upload(Data("one".utf8), to: path)
        #expect(try client.uploadAnswer(Data("two".utf8), to: path, rtype: 0)["errno"] as? Int == -8)
        #expect(
            try client.uploadAnswer(Data("two".utf8), to: path, rtype: 1)["path"] as? String
                == "/apps/e2bdy/docs/report(1).txt")
        let overwritten = try client.uploadAnswer(Data("three".utf8), to: path, rtype: 3)
        #expect(overwritten["path"] as? String == path)
        #expect(overwritten["size"] as? Int == 5)

        let mkdir = try client.post(
            "/rest/2.0/xpan/file", ["method": "create"], ["path": "/apps/e2bdy/new", "isdir": "1"]
        ).object
        #expect(mkdir["category"] as? Int == 6)
        #expect(mkdir["isdir"] as? Int == 1)
        let again = try client.post(
            "/rest/2.0/xpan/file", ["method": "create"], ["path": "/apps/e2bdy/new", "isdir": "1"]
        ).object
        #expect(again["errno"] as? Int == -8)
    }

    // MARK: Listing, management, download rules

    @Test("list -9 and listall 31066 for missing folders; listall pages with cursor/has_more; filemanager")
    func listingAndManagement() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        for name in ["b.bin", "a.bin", "sub/c.bin"] {
            _ = try client.upload(Data(name.utf8), to: "/apps/e2bdy/tree/\(name)")
        }
        #expect(
            try client.get("/rest/2.0/xpan/file", ["method": "list", "dir": "/apps/e2bdy/none"]).object["errno"] as? Int
                == -9)
        #expect(
            try client.get("/rest/2.0/xpan/multimedia", ["method": "listall", "path": "/apps/e2bdy/none"]).object[
                "errno"] as? Int == 31066)
        let names =
            (try client.get("/rest/2.0/xpan/file", ["method": "list", "dir": "/apps/e2bdy/tree"]).object["list"]
            as? [[String: Any]])?
            .compactMap { $0["server_filename"] as? String }
        #expect(names == ["sub", "a.bin", "b.bin"])

        let first = try client.get(
            "/rest/2.0/xpan/multimedia",
            ["method": "listall", "path": "/apps/e2bdy/tree", "recursion": "1", "limit": "2"]
        ).object
        #expect(first["has_more"] as? Int == 1)
        #expect(first["cursor"] as? Int == 2)
        let second = try client.get(
            "/rest/2.0/xpan/multimedia",
            ["method": "listall", "path": "/apps/e2bdy/tree", "recursion": "1", "limit": "2", "start": "2"]
        ).object
        #expect(second["has_more"] as? Int == 0)
        #expect((second["list"] as? [Any])?.count == 2)

        let moved = try client.post(
            "/rest/2.0/xpan/file", ["method": "filemanager", "opera": "move"],
            [
                "async": "0",
                "filelist": #"[{"path":"/apps/e2bdy/tree/a.bin","dest":"/apps/e2bdy/tree/sub","newname":"a2.bin"}]"#,
            ]
        ).object
        #expect(moved["errno"] as? Int == 0)
        let deleted = try client.post(
            "/rest/2.0/xpan/file", ["method": "filemanager", "opera": "delete"],
            [
                "async": "1", "filelist": #"["/apps/e2bdy/tree/sub/a2.bin","/apps/e2bdy/tree/gone.bin"]"#,
            ]
        ).object
        #expect(deleted["errno"] as? Int == 12)
        #expect((deleted["info"] as? [[String: Any]])?.compactMap { $0["errno"] as? Int } == [0, -9])
    }

    @Test("a dlink needs User-Agent pan.baidu.com and access_token, else 31326 with HTTP 403")
    func dlinkNeedsUserAgent() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        let dlink = try client.dlink(try client.upload(Data("hello".utf8), to: "/apps/e2bdy/h.txt"))
        let noAgent = try fake.request(
            "GET", dlink + "&access_token=\(client.token)", headers: ["User-Agent": "curl/8"])
        #expect(noAgent.status == 403)
        #expect(noAgent.object["error_code"] as? Int == 31326)
        let noToken = try fake.request("GET", dlink, headers: ["User-Agent": "pan.baidu.com"])
        #expect(noToken.object["error_code"] as? Int == 31326)

        try fake.control("config", ["dlink_lifetime": 0])
        let stale = try client.dlink(try client.upload(Data("later".utf8), to: "/apps/e2bdy/l.txt"))
        let expired = try fake.request(
            "GET", stale + "&access_token=\(client.token)", headers: ["User-Agent": "pan.baidu.com"])
        #expect(expired.status == 403)
        #expect(expired.object["error_code"] as? Int == 31360)
    }

    // MARK: Faults and throttling

    @Test("injected faults: errno, http:503, reset, expire_session, expire_token, slow")
    func faults() throws {
        let fake = try FakeBaidu.start()
        defer { fake.stop() }
        let client = try Client(fake)
        try fake.control("faults", ["endpoint": "list", "error": 31034, "count": 2])
        for _ in 0..<2 {
            #expect(
                try client.get("/rest/2.0/xpan/file", ["method": "list", "dir": "/apps/e2bdy"]).object["errno"] as? Int
                    == 31034)
        }
        #expect(
            try client.get("/rest/2.0/xpan/file", ["method": "list", "dir": "/apps/e2bdy"]).object["errno"] as? Int == 0
        )

        let data = Self.bytes(300_000)
        let path = "/apps/e2bdy/f.bin"
        let uploadID = try #require(
            try client.precreate(path, size: data.count, blockList: [Self.md5(data)])["uploadid"] as? String)
        try fake.control("faults", ["endpoint": "superfile2", "error": "http:503"])
        let unavailable = try client.superfile2(path, uploadID: uploadID, partseq: 0, data)
        #expect(unavailable.status == 503)
        #expect(unavailable.object["error_code"] != nil)
        try fake.control("faults", ["endpoint": "superfile2", "error": "expire_session"])
        let expired = try client.superfile2(path, uploadID: uploadID, partseq: 0, data)
        #expect(expired.object["error_code"] as? Int == 31299)
        #expect((expired.object["error_msg"] as? String)?.contains("has expire") == true)

        let fsID = try client.upload(data, to: path)
        let dlink = try client.dlink(fsID)
        try fake.control("faults", ["endpoint": "download", "error": "reset"])
        let redirect = try fake.request(
            "GET", dlink + "&access_token=\(client.token)", headers: ["User-Agent": "pan.baidu.com"])
        let location = try #require(redirect.headers["location"])
        #expect(throws: FakeBaidu.Failure.self) { try fake.request("GET", location) }

        try fake.control("faults", ["endpoint": "uinfo", "error": "expire_token"])
        #expect(try client.get("/rest/2.0/xpan/nas", ["method": "uinfo"]).object["errno"] as? Int == -6)
        #expect(try client.get("/rest/2.0/xpan/nas", ["method": "uinfo"]).object["errno"] as? Int == 0)

        try fake.control("faults", ["endpoint": "any", "error": "slow:300"])
        let started = Date()
        _ = try client.get("/api/quota", [:])
        #expect(Date().timeIntervalSince(started) >= 0.3)

        try fake.control("faults", ["endpoint": "token", "error": "Trigger security policy"])
        let policy = try fake.request(
            "GET",
            "/oauth/2.0/token?grant_type=refresh_token&refresh_token=x&client_id=test-app-key&client_secret=test-secret-key"
        )
        #expect(policy.object["error"] as? String == "Trigger security policy")
    }

    @Test("--rate-limit throttles with errno 31034 and counts it")
    func throttling() throws {
        let fake = try FakeBaidu.start(["--rate-limit", "2"])
        defer { fake.stop() }
        let client = try Client(fake)
        let answers = try (0..<6).map { _ in
            try client.get("/rest/2.0/xpan/nas", ["method": "uinfo"]).object["errno"] as? Int
        }
        #expect(answers.contains(31034))
        #expect(answers.prefix(2).allSatisfy { $0 == 0 })
        #expect((try fake.stats()["throttled"] ?? 0) > 0)
    }

    // MARK: Helpers

    private static let formType = ["Content-Type": "application/x-www-form-urlencoded"]

    static func bytes(_ count: Int) -> Data {
        var words = (0..<(count + 7) / 8).map { _ in UInt64.random(in: 0...UInt64.max) }
        return words.withUnsafeMutableBytes { Data($0.prefix(count)) }
    }

    static func md5(_ data: Data) -> String {
        Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func slices(_ data: Data, size: Int) -> [(bytes: Data, md5: String)] {
        stride(from: 0, to: data.count, by: size).map { start in
            let bytes = data.subdata(in: start..<min(start + size, data.count))
            return (bytes, md5(bytes))
        }
    }

    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func form(_ fields: [String: String]) -> Data {
        Data(fields.map { "\(escape($0.key))=\(escape($0.value))" }.joined(separator: "&").utf8)
    }

    /// Speaks the API with one access token, as the backend would.
    struct Client {
        let fake: FakeBaidu
        let token: String

        init(_ fake: FakeBaidu) throws {
            self.fake = fake
            token = try fake.issueToken().access
        }

        private func target(_ path: String, _ query: [String: String]) -> String {
            let all = query.merging(["access_token": token]) { $1 }
            return path + "?" + all.map { "\(escape($0.key))=\(escape($0.value))" }.joined(separator: "&")
        }

        func get(_ path: String, _ query: [String: String]) throws -> FakeBaidu.Response {
            try fake.request("GET", target(path, query))
        }

        func post(_ path: String, _ query: [String: String], _ fields: [String: String]) throws -> FakeBaidu.Response {
            try fake.request("POST", target(path, query), headers: formType, body: form(fields))
        }

        func precreate(
            _ path: String, size: Int, blockList: [String], uploadID: String? = nil, extra: [String: String] = [:]
        ) throws -> [String: Any] {
            var fields = [
                "path": path, "size": String(size), "isdir": "0", "autoinit": "1",
                "block_list": "[" + blockList.map { "\"\($0)\"" }.joined(separator: ",") + "]",
            ].merging(extra) { $1 }
            if let uploadID { fields["uploadid"] = uploadID }
            return try post("/rest/2.0/xpan/file", ["method": "precreate"], fields).object
        }

        func superfile2(_ path: String, uploadID: String, partseq: Int, _ bytes: Data) throws -> FakeBaidu.Response {
            let boundary = "fake-\(UUID().uuidString)"
            var body = Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n".utf8)
            body += Data("Content-Type: application/octet-stream\r\n\r\n".utf8) + bytes
            body += Data("\r\n--\(boundary)--\r\n".utf8)
            return try fake.request(
                "POST",
                target(
                    "/rest/2.0/pcs/superfile2",
                    [
                        "method": "upload", "type": "tmpfile", "path": path, "uploadid": uploadID,
                        "partseq": String(partseq),
                    ]),
                headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"], body: body)
        }

        func create(_ path: String, size: Int, blockList: [String], uploadID: String, rtype: Int = 0) throws
            -> [String: Any]
        {
            try post(
                "/rest/2.0/xpan/file", ["method": "create"],
                [
                    "path": path, "size": String(size), "isdir": "0", "uploadid": uploadID, "rtype": String(rtype),
                    "block_list": "[" + blockList.map { "\"\($0)\"" }.joined(separator: ",") + "]",
                ]
            ).object
        }

        /// The whole flow for a small file (one 4 MiB slice at most); create's answer.
        func uploadAnswer(_ data: Data, to path: String, rtype: Int = 0) throws -> [String: Any] {
            let md5s = BaiduFakeTests.slices(data, size: 4 << 20).map(\.md5)
            let precreate = try precreate(path, size: data.count, blockList: md5s)
            let uploadID = try #require(precreate["uploadid"] as? String)
            for (index, slice) in BaiduFakeTests.slices(data, size: 4 << 20).enumerated() {
                _ = try superfile2(path, uploadID: uploadID, partseq: index, slice.bytes)
            }
            return try create(path, size: data.count, blockList: md5s, uploadID: uploadID, rtype: rtype)
        }

        func upload(_ data: Data, to path: String) throws -> Int {
            try #require(try uploadAnswer(data, to: path, rtype: 3)["fs_id"] as? Int)
        }

        func dlink(_ fsID: Int) throws -> String {
            let metas = try get(
                "/rest/2.0/xpan/multimedia", ["method": "filemetas", "fsids": "[\(fsID)]", "dlink": "1"])
            let list = try #require(metas.object["list"] as? [[String: Any]])
            #expect(list.first?["filename"] != nil)
            return try #require(list.first?["dlink"] as? String)
        }
    }
}
