import ArchiverKit
import Backends

extension FuzzEntries {
    /// The calls and statuses an answer is read as: each envelope, and the calls whose codes mean something special.
    static let baiduCalls: [(call: String, status: Int)] = [
        ("list", 200), ("precreate", 200), ("create", 200), ("filemanager", 200), ("superfile2", 500),
        ("token", 400), ("download", 403), ("filemetas", 429),
    ]

    /// Baidu answer decoding: JSON parsing, the error envelopes, their classification and messages, and the field
    /// accessors the backend reads answers with.
    /// - Parameter input: arbitrary bytes, standing for an answer's body.
    public static func baiduAnswer(_ input: UnsafeRawBufferPointer) {
        let json = JSONValue.parse(input)
        for (call, status) in baiduCalls {
            guard let error = BaiduAPIError.from(body: json, status: status, call: call) else {
                precondition((200..<300).contains(status), "a \(status) answer was taken for a success")
                continue
            }
            _ = BaiduErrorAction.classify(error)
            _ = ArchiverError(baidu: error, subject: "fuzz", doing: "fuzz \(call)").description
        }
        if let json { visit(json) }
    }

    /// Reads every value the way the backend reads answer fields.
    private static func visit(_ value: JSONValue) {
        _ = (value.int, value.string)
        for key in ["errno", "list", "path", "size", "fs_id", "isdir", "server_filename", "block_list", "md5"] {
            if let field = value[key] { _ = (field.int, field.string, field.array?.count) }
        }
        switch value {
        case .array(let items): items.forEach { visit($0) }
        case .object(let fields): fields.values.forEach { visit($0) }
        default: break
        }
    }
}
