import ArchiverKit
import Foundation

/// Baidu's OAuth calls (`openapi.baidu.com/oauth/2.0/...`): the device-code flow and refresh.
///
/// None of them is retried here: a device code and a refresh token are single-use, so the callers decide.
struct BaiduOAuth: Sendable {
    let settings: BaiduSettings

    /// The first step of the device flow.
    struct DeviceCode: Sendable {
        var deviceCode: String
        var userCode: String
        var verificationURL: String
        var qrcodeURL: String?
        var expiresIn: Int64
        var interval: Int64
    }

    /// Asks for a device code and a user code.
    func deviceCode() async throws -> DeviceCode {
        let json = try await get(
            "/oauth/2.0/device/code", name: "device/code",
            [("response_type", "device_code"), ("client_id", settings.appKey), ("scope", "basic,netdisk")])
        guard let device = json["device_code"]?.string, let user = json["user_code"]?.string else {
            throw malformed("device/code")
        }
        return DeviceCode(
            deviceCode: device, userCode: user,
            verificationURL: json["verification_url"]?.string ?? "https://openapi.baidu.com/device",
            qrcodeURL: json["qrcode_url"]?.string, expiresIn: json["expires_in"]?.int ?? 300,
            interval: max(1, json["interval"]?.int ?? 5))
    }

    /// Polls once for the device login's tokens.
    /// - Throws: `BaiduAPIError` with `oauthError` `authorization_pending`, `slow_down` and so on.
    func pollDeviceToken(_ code: DeviceCode) async throws -> TokenGrant {
        try grant(
            try await get(
                "/oauth/2.0/token", name: "token",
                [
                    ("grant_type", "device_token"), ("code", code.deviceCode), ("client_id", settings.appKey),
                    ("client_secret", settings.secretKey),
                ]))
    }

    /// Trades a refresh token for a new pair. The old refresh token is dead afterwards, whatever the answer.
    /// - Throws: `BaiduAPIError` for a refusal; `BaiduHTTP.TransportError` when no answer came.
    func refresh(_ refreshToken: String) async throws -> TokenGrant {
        try grant(
            try await get(
                "/oauth/2.0/token", name: "token",
                [
                    ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", settings.appKey),
                    ("client_secret", settings.secretKey),
                ]))
    }

    private func get(_ path: String, name: String, _ query: [(String, String)]) async throws -> JSONValue {
        let reply = try await BaiduHTTP.send(
            BaiduHTTP.Call(url: BaiduHTTP.url(settings.oauthEndpoint, path, query), timeout: .seconds(30)), name: name)
        let json = reply.json
        if let error = BaiduAPIError.from(body: json, status: reply.status, call: name) { throw error }
        guard let json else { throw malformed(name) }
        return json
    }

    private func grant(_ json: JSONValue) throws -> TokenGrant {
        guard let access = json["access_token"]?.string, let refresh = json["refresh_token"]?.string else {
            throw malformed("token")
        }
        return TokenGrant(
            accessToken: access, refreshToken: refresh, expiresIn: json["expires_in"]?.int ?? 2_592_000,
            scope: json["scope"]?.string)
    }

    private func malformed(_ name: String) -> BaiduAPIError {
        BaiduAPIError(
            call: name, envelope: .http, code: nil, oauthError: nil, message: "the answer lacks the expected fields",
            requestID: nil, status: 200)
    }
}
