/// The OAuth device flow and refresh-token rotation (API notes §1).
extension FakeState {
    private static let scopes: Set<Substring> = ["basic", "netdisk"]

    /// `GET /oauth/2.0/device/code`.
    func deviceCode(_ fields: Fields) throws(OAuthError) -> JSON {
        guard fields["response_type"] == "device_code" else {
            throw OAuthError(error: "unsupported_response_type", description: "response_type must be device_code")
        }
        guard fields["client_id"] == clientID else {
            throw OAuthError(error: "invalid_client", description: "unknown client id")
        }
        if let scope = fields["scope"],
            scope.split(whereSeparator: { $0 == "," || $0 == " " }).contains(where: { !Self.scopes.contains($0) })
        {
            throw OAuthError(error: "invalid_scope", description: "The requested scope is invalid")
        }
        let deviceCode = Self.randomHex(32)
        let userCode = String((0..<8).map { _ in "abcdefghjkmnpqrstuvwxyz23456789".randomElement()! })
        deviceLogins[deviceCode] = DeviceLogin(
            userCode: userCode, expiresAt: Self.clock + Double(settings.deviceExpiresIn),
            consent: settings.autoApprove ? .approved : .pending)
        return [
            "device_code": .string(deviceCode), "user_code": .string(userCode),
            "verification_url": "https://openapi.baidu.com/device",
            "qrcode_url": .string("https://openapi.baidu.com/device/qrcode/\(Self.randomHex(32))/\(userCode)"),
            "expires_in": .int(settings.deviceExpiresIn), "interval": .int(settings.deviceInterval),
        ]
    }

    /// `/oauth/2.0/token` with `grant_type=device_token` or `refresh_token`.
    func token(_ fields: Fields) throws(OAuthError) -> JSON {
        switch fields["grant_type"] {
        case "device_token":
            return try pollDevice(fields)
        case "refresh_token":
            return try refresh(fields)
        case nil:
            throw OAuthError(error: "invalid_request", description: "grant_type is missing")
        default:
            throw OAuthError(error: "unsupported_grant_type", description: "unsupported grant_type")
        }
    }

    private func checkClient(_ fields: Fields) throws(OAuthError) {
        guard fields["client_id"] == clientID, fields["client_secret"] == clientSecret else {
            throw OAuthError(error: "invalid_client", description: "unknown client id or wrong client secret")
        }
    }

    private func pollDevice(_ fields: Fields) throws(OAuthError) -> JSON {
        try checkClient(fields)
        guard let code = fields["code"], !code.isEmpty else {
            throw OAuthError(error: "invalid_request", description: "code is missing")
        }
        guard var login = deviceLogins[code] else {
            throw OAuthError(error: "invalid_grant", description: "Invalid device code")
        }
        guard !login.used else {
            throw OAuthError(error: "invalid_grant", description: "device code has been used")
        }
        let now = Self.clock
        guard login.expiresAt > now else {
            throw OAuthError(error: "expired_token", description: "device code expired")
        }
        defer { deviceLogins[code] = login }
        if let last = login.lastPoll, now - last < Double(settings.deviceInterval) {
            login.lastPoll = now
            throw OAuthError(error: "slow_down", description: "The device is polling too frequently")
        }
        login.lastPoll = now
        switch login.consent {
        case .pending:
            throw OAuthError(
                error: "authorization_pending", description: "User has not yet completed the authorization")
        case .denied:
            throw OAuthError(error: "authorization_declined", description: "User has declined the authorization")
        case .approved:
            login.used = true
            stats.tokenGrants += 1
            return grant()
        }
    }

    private func refresh(_ fields: Fields) throws(OAuthError) -> JSON {
        guard let token = fields["refresh_token"], !token.isEmpty else {
            throw OAuthError(error: "invalid_request", description: "refresh_token is missing")
        }
        guard let state = refreshTokens[token] else {
            throw OAuthError(error: "invalid_grant", description: "Invalid refresh token")
        }
        switch state {
        case .used:
            throw OAuthError(error: "expired_token", description: "refresh token has been used")
        case .revoked:
            throw OAuthError(error: "invalid_grant", description: "refresh token has been revoked")
        case .live:
            break
        }
        do {
            try checkClient(fields)
        } catch {
            // A failed refresh also kills the presented refresh token (API notes §1.2).
            refreshTokens[token] = .revoked
            throw error
        }
        refreshTokens[token] = .used
        stats.refresh += 1
        return grant()
    }

    /// `/__fake/issue-token`: a token pair as if a device login had just happened.
    func issueToken() -> JSON {
        stats.tokenGrants += 1
        return grant()
    }

    /// `/__fake/device/approve` and `/deny`.
    func decide(userCode: String, approve: Bool) -> Bool {
        guard let code = deviceLogins.first(where: { $0.value.userCode == userCode })?.key else { return false }
        deviceLogins[code]?.consent = approve ? .approved : .denied
        return true
    }
}
