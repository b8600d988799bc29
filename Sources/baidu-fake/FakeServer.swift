import FlyingFox
import Foundation

/// Routes every Baidu host's paths on one port, applies injected faults, throttling and token checks, and
/// wraps the state's answers in the endpoint's envelope.
struct FakeServer: HTTPHandler {
    let state: FakeState
    let store: BlobStore

    /// The API endpoints, named as the control API's `faults` names them.
    enum Endpoint: String, Sendable {
        case deviceCode = "device_code"
        case token, precreate, create, list, filemanager, search, listall, filemetas, uinfo, quota
        case superfile2, locateupload, download, cdn

        enum Envelope { case oauth, xpan, pcs }

        var envelope: Envelope {
            switch self {
            case .deviceCode, .token: .oauth
            case .superfile2, .locateupload, .download, .cdn: .pcs
            default: .xpan
            }
        }

        /// The name a fault targets (the device-code request counts as `token`).
        var faultName: String {
            self == .deviceCode ? "token" : rawValue
        }
    }

    /// What was asked: the endpoint, or an answer already decided (unknown method, 404).
    private func route(_ path: String, _ query: [String: String]) -> Result<Endpoint, Refusal> {
        let method = query["method"] ?? ""
        switch path {
        case "/oauth/2.0/device/code": return .success(.deviceCode)
        case "/oauth/2.0/token": return .success(.token)
        case "/rest/2.0/xpan/file":
            let known: [String: Endpoint] = [
                "precreate": .precreate, "create": .create, "list": .list, "filemanager": .filemanager,
                "search": .search,
            ]
            return known[method].map { .success($0) } ?? .failure(.xpan(3, "unsupported open API method"))
        case "/rest/2.0/xpan/multimedia":
            let known: [String: Endpoint] = ["listall": .listall, "filemetas": .filemetas]
            return known[method].map { .success($0) } ?? .failure(.xpan(3, "unsupported open API method"))
        case "/rest/2.0/xpan/nas":
            return method == "uinfo" ? .success(.uinfo) : .failure(.xpan(3, "unsupported open API method"))
        case "/api/quota": return .success(.quota)
        case "/rest/2.0/pcs/superfile2":
            return method == "upload" ? .success(.superfile2) : .failure(.pcs(31023, "method must be upload"))
        case "/rest/2.0/pcs/file":
            return method == "locateupload" ? .success(.locateupload) : .failure(.pcs(31023, "unsupported method"))
        default:
            if path.hasPrefix("/file/") { return .success(.download) }
            if path.hasPrefix("/cdn/") { return .success(.cdn) }
            return .failure(.notFound)
        }
    }

    enum Refusal: Error {
        case xpan(Int, String)
        case pcs(Int, String)
        case notFound

        var response: HTTPResponse {
            switch self {
            case .xpan(let code, let message): Reply.xpanError(code, message)
            case .pcs(let code, let message): Reply.pcsError(code, message)
            case .notFound: Reply.json(["error": "not found"], status: 404)
            }
        }
    }

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        // Read the whole body first, so no answer leaves unread bytes on a kept-alive connection.
        let body = (try? await request.bodyData) ?? Data()
        if request.path.hasPrefix("/__fake/") {
            return await control(request, body: body)
        }
        let endpoint: Endpoint
        let query = FormData.decode(request.target.query())
        switch route(request.path, query ?? [:]) {
        case .success(let found): endpoint = found
        case .failure(let refusal): return refusal.response
        }
        await state.countRequest()
        guard let query else { return error(endpoint, .parameter("query string is not valid percent-encoding")) }
        var fields = Fields(query: query)
        if request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            guard let form = FormData.decode(String(decoding: body, as: UTF8.self)) else {
                return error(endpoint, .parameter("form body is not valid percent-encoding"))
            }
            fields.form = form
        }

        var tokenExpired = false
        var resetDownload = false
        var late: Int?
        var lost = false
        var answerInstead: Int?
        // `create_file` arms a fault on file creates only, past the folder creates that come first.
        let faultNames = [endpoint.faultName] + (endpoint == .create && fields["isdir"] != "1" ? ["create_file"] : [])
        if endpoint != .cdn, let fault = await state.takeFault(for: faultNames) {
            switch fault {
            case .code(let code): return faultReply(endpoint, code: code)
            case .http(let status):
                return Reply.pcsError(status >= 500 ? 31212 : 31023, "injected fault", status: status)
            case .reset:
                guard endpoint == .download else { return Reply.reset() }
                resetDownload = true
            case .slow(let milliseconds): try? await Task.sleep(for: .milliseconds(milliseconds))
            case .late(let milliseconds): late = milliseconds
            case .lost: lost = true
            case .carriedOut(let code): answerInstead = code
            case .expireSession: await state.expireSessions(fields["uploadid"] ?? "")
            case .expireToken: tokenExpired = true
            case .oauth(let name):
                if endpoint.envelope == .oauth {
                    let description = name == "Trigger security policy" ? "Please try again later" : "injected fault"
                    return Reply.oauthError(name, description)
                }
            }
        }
        if endpoint.envelope == .xpan, !(await state.admit(endpoint.rawValue)) {
            return Reply.xpanError(31034, "hit API frequency control")
        }
        if let refusal = await authorize(endpoint, fields, request, forceExpired: tokenExpired) {
            return refusal
        }
        do {
            let reply = try await answer(endpoint, fields, request: request, body: body, resetDownload: resetDownload)
            if let late { try? await Task.sleep(for: .milliseconds(late)) }
            if let answerInstead { return faultReply(endpoint, code: answerInstead) }
            return lost ? Reply.reset() : reply
        } catch let failure as APIError {
            return error(endpoint, failure)
        } catch let failure as OAuthError {
            return Reply.oauthError(failure.error, failure.description)
        } catch {
            return self.error(endpoint, APIError(code: 31296, message: "server error: \(error)", status: 500))
        }
    }

    private func error(_ endpoint: Endpoint, _ failure: APIError) -> HTTPResponse {
        switch endpoint.envelope {
        case .xpan: Reply.xpanError(failure.code, failure.message)
        case .pcs: Reply.pcsError(failure.code, failure.message, status: failure.status)
        case .oauth: Reply.oauthError("invalid_request", failure.message)
        }
    }

    private func faultReply(_ endpoint: Endpoint, code: Int) -> HTTPResponse {
        switch endpoint.envelope {
        case .xpan: Reply.xpanError(code, "injected fault")
        case .pcs: Reply.pcsError(code, "injected fault")
        case .oauth:
            Reply.json(
                ["error": "server_error", "error_description": "injected fault", "error_code": .int(code)],
                status: 400)
        }
    }

    /// Token checks: xpan -6; superfile2/locateupload 110 (unknown) or 111 (expired) with HTTP 401;
    /// dlink without a token or without `User-Agent: pan.baidu.com` 31326 (403), bad token 31045 (401).
    private func authorize(_ endpoint: Endpoint, _ fields: Fields, _ request: HTTPRequest, forceExpired: Bool) async
        -> HTTPResponse?
    {
        switch endpoint {
        case .deviceCode, .token, .cdn:
            return nil
        case .download:
            let agent = request.headers[HTTPHeader("User-Agent")]?.trimmingCharacters(in: .whitespaces).lowercased()
            guard agent == "pan.baidu.com", fields.accessToken?.isEmpty == false else {
                return Reply.pcsError(31326, "anti hotlinking: User-Agent pan.baidu.com and access_token required")
            }
        default:
            break
        }
        let status = forceExpired ? .expired : await state.tokenStatus(fields.accessToken)
        switch (endpoint.envelope, status) {
        case (_, .valid): return nil
        case (.xpan, .expired): return Reply.xpanError(-6, "access token expired")
        case (.xpan, _): return Reply.xpanError(-6, "access token invalid")
        case _ where endpoint == .download:
            return Reply.pcsError(31045, "access token verification failed", status: 401)
        case (_, .expired): return Reply.pcsError(111, "Access token expired", status: 401)
        default: return Reply.pcsError(110, "Access token invalid or no longer valid", status: 401)
        }
    }

    private func answer(_ endpoint: Endpoint, _ fields: Fields, request: HTTPRequest, body: Data, resetDownload: Bool)
        async throws -> HTTPResponse
    {
        switch endpoint {
        case .deviceCode: return Reply.json(try await state.deviceCode(fields))
        case .token: return Reply.json(try await state.token(fields))
        case .uinfo: return Reply.xpan(await state.userInfo())
        case .quota: return Reply.xpan(await state.quotaInfo())
        case .precreate: return Reply.xpan(try await state.precreate(fields))
        case .create: return Reply.xpan(try await create(fields))
        case .list: return Reply.xpan(try await state.list(fields))
        case .listall: return Reply.xpan(try await state.listAll(fields))
        case .search: return Reply.xpan(try await state.search(fields))
        case .filemetas: return Reply.xpan(try await state.fileMetas(fields))
        case .filemanager: return Reply.xpan(try await state.fileManager(fields))
        case .locateupload: return Reply.pcs(await state.uploadHosts())
        case .superfile2: return try await uploadSlice(fields, request: request, body: body)
        case .download:
            let token = String(request.path.dropFirst("/file/".count))
            let location = try await state.redirect(token, sign: fields["sign"], reset: resetDownload)
            var headers = HTTPHeaders()
            headers[.location] = location
            headers[.contentLength] = "0"
            return HTTPResponse(statusCode: .found, headers: headers)
        case .cdn: return try await serveData(fields, request: request)
        }
    }

    private func create(_ fields: Fields) async throws(APIError) -> JSON {
        switch try await state.beginCreate(fields) {
        case .done(let answer):
            return answer
        case .assemble(let assembly):
            let assembled: (blob: URL, digest: BlobStore.Digest)
            do {
                assembled = try await Blocking.run { [store] in try store.assemble(assembly.parts) }
            } catch {
                await state.abortCreate(assembly.sessionID)
                throw APIError(code: 10, message: "superfile create failed: \(error)")
            }
            return try await state.finishCreate(assembly, blob: assembled.blob, digest: assembled.digest)
        }
    }

    private func uploadSlice(_ fields: Fields, request: HTTPRequest, body: Data) async throws -> HTTPResponse {
        let ticket = try await state.beginSlice(fields)
        guard let boundary = Multipart.boundary(contentType: request.headers[.contentType]),
            let multipart = Multipart(body: body, boundary: boundary)
        else { throw APIError(code: 31208, message: "body must be multipart/form-data") }
        guard let part = multipart.part(named: "file") else {
            throw APIError(code: 31208, message: "multipart part `file` is missing")
        }
        try ticket.check(size: part.content.count)
        let bytes = body.subdata(in: part.content)
        let stored = try await Blocking.run { [store] in
            (md5: bytes.md5Hex, url: try store.writeSlice(bytes))
        }
        try await state.finishSlice(ticket, Slice(url: stored.url, md5: stored.md5, size: bytes.count))
        return Reply.pcs([
            "md5": .string(stored.md5), "uploadid": .string(ticket.sessionID),
            "partseq": .string(String(ticket.partseq)),
        ])
    }
}

/// Runs blocking disk work (assembling gigabytes, hashing slices) off the cooperative thread pool.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
