import Foundation

/// A request's parameters: the query and the form body, each decoded once. `access_token` is only ever read
/// from the query; other fields are taken from the form first, then the query (some clients put `async` or
/// `ondup` in the query).
struct Fields: Sendable {
    var query: [String: String]
    var form: [String: String] = [:]

    subscript(name: String) -> String? {
        form[name] ?? query[name]
    }

    var accessToken: String? { query["access_token"] }

    /// An integer field; nil when absent, `.failure` when present but not a number.
    func integer(_ name: String) -> Int?? {
        guard let text = self[name] else { return .none }
        return .some(Int(text.trimmingCharacters(in: .whitespaces)))
    }
}
