/// A refusal in Baidu's numeric terms; the server wraps it in the endpoint's envelope
/// (xpan: `errno` with HTTP 200; PCS: `error_code` with `status`).
struct APIError: Error, Sendable {
    var code: Int
    var message: String
    /// The HTTP status when the answer uses the PCS envelope.
    var status: Int = 400

    static func parameter(_ message: String) -> APIError {
        APIError(code: 2, message: message)
    }

    static func pcsParameter(_ message: String) -> APIError {
        APIError(code: 31023, message: message)
    }
}

/// A refusal of the OAuth endpoints: `{"error", "error_description"}` with HTTP 400.
struct OAuthError: Error, Sendable {
    var error: String
    var description: String
}
