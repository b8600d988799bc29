public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A running `baidu-fake` server for a test: started on a free port with its data in a fresh temporary folder,
/// stopped (and the folder removed) by `stop()` or when the value goes away. Its stdin is a pipe held here, so
/// a fake whose test process died exits on its own.
public final class FakeBaidu: @unchecked Sendable {
    /// Why the fake could not be started or a call to it failed.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// One HTTP answer of the fake.
    public struct Response: Sendable {
        /// The HTTP status.
        public var status: Int
        /// Header fields, names lowercased.
        public var headers: [String: String]
        /// The body.
        public var body: Data

        /// The body parsed as JSON (nil when it is not JSON).
        public var json: Any? { try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        /// The body as a JSON object, or an empty one.
        public var object: [String: Any] { json as? [String: Any] ?? [:] }
    }

    /// The built `baidu-fake` executable, next to the test bundle.
    public static var executable: String {
        CommandRunner.productsDirectory.appendingPathComponent("baidu-fake").path
    }

    /// The fake's base URL, `http://127.0.0.1:PORT`: every Baidu host (OAuth, API, upload, download) at once.
    public let url: String
    /// The fake's port.
    public let port: UInt16
    /// Where the fake keeps committed contents.
    public let dataDirectory: URL

    private let process: Process
    private let input: Pipe
    private let lock = NSLock()
    private var stopped = false

    private init(url: String, port: UInt16, dataDirectory: URL, process: Process, input: Pipe) {
        self.url = url
        self.port = port
        self.dataDirectory = dataDirectory
        self.process = process
        self.input = input
    }

    deinit {
        stop()
    }

    /// Starts a fake with `--data` in a fresh temporary folder, `--port 0` and `--exit-on-stdin-eof`, and waits
    /// (up to 30 s) for its `baidu-fake listening on ...` line.
    /// - Parameter arguments: further options, e.g. `["--vip-type", "2", "--auto-approve"]`.
    /// - Throws: `Failure` when the executable is missing or the fake does not come up.
    public static func start(_ arguments: [String] = []) throws -> FakeBaidu {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "\(executable) is missing; build the baidu-fake product first")
        }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("baidu-fake-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--data", data.path, "--port", "0", "--exit-on-stdin-eof"] + arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()

        let line = LineBox()
        let reader = Thread {
            var bytes = Data()
            while !bytes.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                bytes.append(chunk)
            }
            line.set(String(decoding: bytes, as: UTF8.self))
        }
        reader.start()
        let text = line.wait(seconds: 30)
        let prefix = "baidu-fake listening on "
        guard let text, let start = text.range(of: prefix),
            let portText = text[start.upperBound...].split(separator: "\n").first,
            let port = UInt16(portText.split(separator: ":").last ?? "")
        else {
            process.terminate()
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: data)
            throw Failure(description: "baidu-fake did not report its address (output: \(text ?? "none"))")
        }
        return FakeBaidu(
            url: String(portText), port: port, dataDirectory: data, process: process, input: input)
    }

    /// Stops the fake and removes its data folder; safe to call twice.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dataDirectory)
    }

    /// Calls the control API: GET when `body` is nil, else POST with `body` as JSON.
    /// - Parameters:
    ///   - path: the part after `/__fake/`, e.g. `"stats"` or `"faults"`.
    ///   - body: the JSON object to send.
    /// - Returns: the parsed JSON answer.
    /// - Throws: `Failure` when the call fails or is refused.
    @discardableResult
    public func control(_ path: String, _ body: [String: Any]? = nil) throws -> Any {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let response = try request(
            body == nil ? "GET" : "POST", "/__fake/\(path)", headers: ["Content-Type": "application/json"],
            body: data)
        guard response.status == 200, let json = response.json else {
            throw Failure(
                description: "control \(path) answered \(response.status): "
                    + String(decoding: response.body, as: UTF8.self))
        }
        return json
    }

    /// The fake's counters (`superfile2`, `precreate`, `create`, `rapid_hits`, `refresh`, `token_grants`,
    /// `requests`, `bytes_received`, `throttled`, `downloads`).
    /// - Throws: `Failure` when the call fails.
    public func stats() throws -> [String: Int] {
        guard let stats = try control("stats") as? [String: Int] else {
            throw Failure(description: "stats is not an object of numbers")
        }
        return stats
    }

    /// A token pair, as if a device login had just happened.
    /// - Throws: `Failure` when the call fails.
    public func issueToken() throws -> (access: String, refresh: String) {
        let answer = try control("issue-token", [:]) as? [String: Any]
        guard let access = answer?["access_token"] as? String, let refresh = answer?["refresh_token"] as? String else {
            throw Failure(description: "issue-token answered without tokens")
        }
        return (access, refresh)
    }

    /// One blocking HTTP/1.1 request to the fake (no redirects followed), for tests that speak Baidu's API
    /// directly.
    /// - Parameters:
    ///   - method: `GET`, `POST`, `HEAD`...
    ///   - target: the path and query, e.g. `/rest/2.0/xpan/nas?method=uinfo&access_token=...`, or a full
    ///     URL on the fake (as a dlink or a redirect's Location is).
    ///   - headers: extra header fields.
    ///   - body: the request body.
    /// - Throws: `Failure` when the connection fails or the answer is cut short (an injected "reset").
    public func request(_ method: String, _ target: String, headers: [String: String] = [:], body: Data = Data())
        throws -> Response
    {
        let path = target.hasPrefix(url) ? String(target.dropFirst(url.count)) : target
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        let raw = try exchange(Data(head.utf8) + body)
        guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else {
            throw Failure(description: "\(method) \(path): no complete answer head")
        }
        let lines = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw Failure(description: "\(method) \(path): bad status line") }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let content = raw[split.upperBound...]
        if method != "HEAD", let length = fields["content-length"].flatMap(Int.init), content.count < length {
            throw Failure(description: "\(method) \(path): answer cut short at \(content.count) of \(length) bytes")
        }
        return Response(status: status, headers: fields, body: Data(content))
    }

    /// Sends `request` on a fresh connection and reads until the fake closes it.
    private func exchange(_ request: Data) throws -> Data {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect to \(url): errno \(errno)") }
        try request.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var sent = 0
            while sent < buffer.count {
                let count = send(descriptor, buffer.baseAddress! + sent, buffer.count - sent, 0)
                guard count > 0 else { throw Failure(description: "send: errno \(errno)") }
                sent += count
            }
        }
        var answer = Data()
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { break }
            if count < 0 {
                // A reset after a partial answer is reported by the length check of the caller.
                if errno == ECONNRESET, !answer.isEmpty { break }
                throw Failure(description: "recv: errno \(errno)")
            }
            answer.append(contentsOf: chunk[0..<count])
        }
        return answer
    }
}

/// The first line of the fake's stdout, handed from the reading thread to the starter.
private final class LineBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: String?
    private var done = false

    func set(_ text: String) {
        condition.lock()
        value = text
        done = true
        condition.broadcast()
        condition.unlock()
    }

    func wait(seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while !done, condition.wait(until: deadline) {}
        return value
    }
}
