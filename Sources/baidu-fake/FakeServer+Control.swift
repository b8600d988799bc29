import FlyingFox
import Foundation

/// `/__fake/...`: the control API for tests and demos (no auth, JSON in and out).
extension FakeServer {
    private static let faultEndpoints: Set<String> = [
        "precreate", "create", "create_file", "superfile2", "locateupload", "list", "listall", "search", "filemetas",
        "filemanager", "uinfo", "quota", "download", "token", "any",
    ]

    func control(_ request: HTTPRequest, body: Data) async -> HTTPResponse {
        let name = String(request.path.dropFirst("/__fake/".count))
        let input = body.isEmpty ? JSON.object([:]) : JSON.parse(body)
        guard let input else { return Self.controlError("body is not JSON") }
        do {
            return Reply.json(try await control(name, input))
        } catch {
            return Self.controlError(error.message)
        }
    }

    private static func controlError(_ message: String, status: Int = 400) -> HTTPResponse {
        Reply.json(["error": .string(message)], status: status)
    }

    private func control(_ name: String, _ input: JSON) async throws(APIError) -> JSON {
        switch name {
        case "stats":
            return await state.stats.json
        case "reset-stats":
            await state.resetStats()
        case "faults":
            guard let endpoint = input["endpoint"]?.string, Self.faultEndpoints.contains(endpoint) else {
                throw .parameter("endpoint must be one of \(Self.faultEndpoints.sorted().joined(separator: ", "))")
            }
            guard let kind = input["error"].flatMap(Fault.kind(from:)) else {
                throw .parameter("error must be a number, http:NNN, reset, slow:MS, late:MS, lost, done:CODE, expire_session or expire_token")
            }
            let count = input["count"]?.int ?? 1
            guard count > 0 else { throw .parameter("count must be positive") }
            await state.addFault(Fault(endpoint: endpoint, kind: kind, remaining: count))
        case "clear-faults":
            await state.clearFaults()
        case "expire-access-tokens":
            await state.expireAccessTokens()
        case "expire-sessions":
            await state.expireSessions()
        case "issue-token":
            return await state.issueToken()
        case "config":
            try await state.configure(input)
        case "put":
            return try await put(input)
        case "files":
            return await state.fileList()
        case "device/approve", "device/deny":
            guard let code = input["user_code"]?.string else { throw .parameter("user_code is missing") }
            guard await state.decide(userCode: code, approve: name == "device/approve") else {
                throw .parameter("unknown user_code \(code)")
            }
        default:
            throw .parameter("unknown control call \(name)")
        }
        return ["ok": true]
    }

    private func put(_ input: JSON) async throws(APIError) -> JSON {
        guard let raw = input["path"]?.string, let path = try? RemotePath.normalize(raw), path != "/" else {
            throw .parameter("path must be a valid absolute path")
        }
        guard let source = input["source"]?.string else { throw .parameter("source is missing") }
        let sliceSize = await state.settings.sliceSize
        let imported: (blob: URL, digest: BlobStore.Digest, blockList: [String])
        do {
            imported = try await Blocking.run { [store] in
                try store.importFile(URL(fileURLWithPath: source), sliceSize: sliceSize)
            }
        } catch {
            throw .parameter("cannot read \(source): \(error)")
        }
        do {
            let id = try await state.put(
                path, blob: imported.blob, digest: imported.digest, blockList: imported.blockList)
            return ["fs_id": .int(id)]
        } catch {
            store.remove(imported.blob)
            throw error
        }
    }
}
