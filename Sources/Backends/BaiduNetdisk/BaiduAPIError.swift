import ArchiverKit

/// An error answer from one of Baidu's hosts, read from the body as well as the status.
///
/// Baidu answers errors in three envelopes: OAuth `{error, error_description}` (HTTP 400), xpan
/// `{errno, errmsg}` (usually HTTP 200, newer gateways `{errno, show_msg}`), and PCS `{error_code, error_msg}`
/// (HTTP 4xx/5xx). A status without a recognisable body is kept as `.http`.
package struct BaiduAPIError: Error, Sendable, CustomStringConvertible {
    enum Envelope: Sendable, Equatable {
        case oauth
        case xpan
        case pcs
        case http
    }

    /// Which call failed (`precreate`, `superfile2`, `token`), for messages and for codes whose meaning depends on it.
    var call: String
    var envelope: Envelope
    /// `errno` or `error_code`; nil for OAuth errors and bare HTTP failures.
    var code: Int?
    /// The OAuth `error` (`invalid_grant`, `authorization_pending`).
    var oauthError: String?
    /// Baidu's text (`errmsg`, `show_msg`, `error_msg`, `error_description`), redacted.
    var message: String
    var requestID: String?
    var status: Int
    /// The whole answer, for calls whose errors carry details (`filemanager`'s per-item `info`).
    var body: JSONValue?

    package var description: String {
        var text = "Baidu \(call) failed: "
        if let oauthError {
            text += oauthError + (message.isEmpty ? "" : " (\(message))")
        } else if let code {
            text += (envelope == .pcs ? "error_code " : "errno ") + String(code)
            if !message.isEmpty { text += " (\(message))" }
        } else {
            text += "HTTP \(status)" + (message.isEmpty ? "" : " (\(message))")
        }
        if let requestID { text += ", request_id \(requestID)" }
        return text
    }

    /// Reads an error envelope from a parsed body, or returns nil for a success.
    /// - Parameters:
    ///   - body: the parsed JSON, nil when the body is not JSON.
    ///   - status: the HTTP status.
    ///   - call: the call's name.
    package static func from(body: JSONValue?, status: Int, call: String) -> BaiduAPIError? {
        let requestID = body?["request_id"]?.string
        func make(_ envelope: Envelope, code: Int?, oauth: String? = nil, message: String?) -> BaiduAPIError {
            BaiduAPIError(
                call: call, envelope: envelope, code: code, oauthError: oauth,
                message: BaiduRedaction.redact(message ?? ""), requestID: requestID, status: status, body: body)
        }
        if let error = body?["error"]?.string, !error.isEmpty {
            return make(.oauth, code: nil, oauth: error, message: body?["error_description"]?.string)
        }
        if let errno = body?["errno"]?.int, errno != 0 {
            return make(
                .xpan, code: Int(errno), message: body?["errmsg"]?.string ?? body?["show_msg"]?.string)
        }
        if let code = body?["error_code"]?.int, code != 0 {
            return make(.pcs, code: Int(code), message: body?["error_msg"]?.string)
        }
        if !(200..<300).contains(status) {
            return make(.http, code: nil, message: body == nil ? nil : "unexpected answer")
        }
        return nil
    }
}

/// What to do about a failed call: Baidu's error table (section 7 of the API notes) turned into actions.
package enum BaiduErrorAction: Equatable, Sendable {
    /// Exponential backoff with jitter, a bounded number of times (network errors, 5xx, 31034, 42000).
    case backoff
    /// A long pause before retrying (20012, daily and total call quotas 17 and 19).
    case longPause
    /// Retry once straight away (errno 2 is sometimes transient).
    case retryOnce
    /// Refresh the access token and retry once (-6, 110, 111, 20016, 20017, 31045, 100).
    case refreshToken
    /// The upload session is gone; the object starts over (31363, 31355, 31190, 31299 with an expiry text).
    case uploadExpired
    /// The download link expired or was cut; fetch a new one (31360, 31362).
    case refetchLink
    /// The disk is full: stop the run, keep its state (-10, 31112).
    case quota
    /// Anything else: report it.
    case fail

    /// Classifies an error answer.
    /// - Parameter error: the answer.
    /// - Returns: the action for it.
    package static func classify(_ error: BaiduAPIError) -> BaiduErrorAction {
        if error.envelope == .oauth { return .fail }
        guard let code = error.code else {
            return error.status >= 500 || error.status == 429 ? .backoff : .fail
        }
        switch code {
        case 4 where error.envelope == .pcs:
            return .fail  // PCS: "no permission to do this operation"
        case 31034, 42000, 1, 4, 18, 133, 31212, 31213, 31296, 31341, 42212, 42905:
            return .backoff
        case 20012, 17, 19:
            return .longPause
        case 2:
            return .retryOnce
        case 111 where error.call == "filemanager":
            // On filemanager 111 means another asynchronous task is still running, not an expired token.
            return .backoff
        case -6, 100, 110, 111, 20016, 20017, 31045:
            return .refreshToken
        case 31363, 31355, 31190:
            return .uploadExpired
        case 31299 where isExpiryText(error.message):
            return .uploadExpired
        case 10 where error.call == "create":
            return .uploadExpired
        case 31360, 31362:
            return .refetchLink
        case -10, 31112:
            return .quota
        default:
            return error.status >= 500 ? .backoff : .fail
        }
    }

    /// Whether Baidu's text says the upload session expired (`expired_time ... has expire`, `uploadid ... invalid`).
    static func isExpiryText(_ text: String) -> Bool {
        let lower = text.lowercased()
        if lower.contains("expire") { return true }
        return lower.contains("uploadid") && (lower.contains("invalid") || lower.contains("not found"))
    }
}

extension ArchiverError {
    /// The user-facing form of a Baidu error, with a specific message for the codes that need one.
    /// - Parameters:
    ///   - error: Baidu's answer.
    ///   - subject: the object or path concerned.
    ///   - doing: what was being done, as a verb phrase (`upload object x`).
    package init(baidu error: BaiduAPIError, subject: String?, doing: String) {
        let base = "cannot \(doing): \(error)"
        switch (BaiduErrorAction.classify(error), error.code) {
        case (.quota, _):
            self.init(
                .quota, "Baidu Netdisk is full (\(error)); free space or upgrade the account, then run again",
                subject: subject, cause: error)
        case (.uploadExpired, _):
            self.init(.uploadExpired, "Baidu forgot the upload session (\(error)); the object starts over",
                subject: subject, cause: error)
        case (_, .some(-7)), (_, 31062?), (_, 31064?), (_, 20020?), (_, 20023?):
            self.init(
                .backend,
                "\(base). Baidu refuses this path: names must stay under /apps/<app name>/, and must not contain "
                    + "\\ ? | \" > < : * or emoji, nor start or end with a dot or space",
                subject: subject, cause: error)
        case (_, 31365?):
            self.init(
                .backend, "\(base). The object is larger than the Baidu account's member tier allows",
                subject: subject, cause: error)
        case (_, 31024?):
            self.init(
                .backend, "\(base). Baidu denies the upload permission: check the app's rights and log in again",
                subject: subject, cause: error)
        case (_, 17?), (_, 19?), (_, 20012?):
            self.init(
                .backend,
                "\(base). The Baidu app's call quota is used up; run again later (tomorrow for a daily quota)",
                subject: subject, cause: error)
        default:
            self.init(.backend, base, subject: subject, cause: error)
        }
    }
}
