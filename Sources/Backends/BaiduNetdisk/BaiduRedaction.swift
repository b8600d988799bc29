import Foundation

/// Keeps secrets out of logs and error messages.
///
/// Baidu takes `access_token` in the query of every call, and the OAuth calls carry `refresh_token`,
/// `client_secret` and the device `code`; dlinks carry a `sign`. Every URL or text that may hold one passes through
/// `redact(_:)` before it is logged or put into an error.
enum BaiduRedaction {
    /// The query parameters whose values are secret.
    static let secretParameters = ["access_token", "refresh_token", "client_secret", "code", "sign"]

    /// What a secret value becomes.
    static let placeholder = "REDACTED"

    /// A parameter name at the start of a query item (after `?`, `&`, `;`, whitespace, a quote or the text's start),
    /// so `user_code=` and `device_code=` stay readable while `code=` is hidden.
    private static let pattern = try! NSRegularExpression(
        pattern: "(^|[?&;\\s\"'(])(" + secretParameters.joined(separator: "|") + ")=[^&\\s#\"')]*",
        options: [])

    /// Replaces the value of every secret query parameter in `text`.
    /// - Parameter text: a URL, or any text that may contain URLs.
    /// - Returns: the text with `access_token=REDACTED` and the like.
    static func redact(_ text: String) -> String {
        let range = NSRange(text.startIndex..., in: text)
        return pattern.stringByReplacingMatches(
            in: text, options: [], range: range, withTemplate: "$1$2=\(placeholder)")
    }
}
