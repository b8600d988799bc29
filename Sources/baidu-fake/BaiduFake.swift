import FlyingFox
import FlyingSocks
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `baidu-fake`: parses the command line, listens on 127.0.0.1, prints the one ready line.
@main
struct BaiduFake {
    static func main() async {
        let options: Options
        do throws(Options.Failure) {
            options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            switch error {
            case .help:
                print(Options.help)
                return
            case .invalid(let message):
                FileHandle.standardError.write(Data("baidu-fake: \(message) (see --help)\n".utf8))
                exit(2)
            }
        }
        do {
            try await run(options)
        } catch {
            FileHandle.standardError.write(Data("baidu-fake: \(error)\n".utf8))
            exit(1)
        }
    }

    private static func run(_ options: Options) async throws {
        try FileManager.default.createDirectory(at: options.dataDirectory, withIntermediateDirectories: true)
        let store = try BlobStore(root: options.dataDirectory)
        let state = FakeState(options: options, store: store)
        await state.prepare()
        let server = HTTPServer(
            config: HTTPServer.Configuration(
                address: try sockaddr_in.inet(ip4: "127.0.0.1", port: options.port),
                // create of a multi-gigabyte file and "slow" faults must not hit FlyingFox's handler timeout.
                timeout: 3600,
                sharedRequestBufferSize: 64 * 1024,
                logger: .disabled),
            handler: FakeServer(state: state, store: store))
        if options.exitOnStdinEOF {
            Thread.detachNewThread {
                while FileHandle.standardInput.availableData.count > 0 {}
                exit(0)
            }
        }
        let task = Task { try await server.run() }
        try await server.waitUntilListening(timeout: 30)
        guard case .ip4(_, let port) = await server.listeningAddress else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no listening address"])
        }
        disableNagle(onListenerOf: port)
        let url = "http://127.0.0.1:\(port)"
        await state.setBaseURL(url)
        // Unbuffered: the launcher waits for exactly this line.
        FileHandle.standardOutput.write(Data("baidu-fake listening on \(url)\n".utf8))
        try await task.value
    }

    /// FlyingFox writes a response's head and body separately; on a kept-alive connection Nagle's algorithm then
    /// holds the body until the client's delayed ACK (40 ms), which made every reused-connection call slow. Linux
    /// copies TCP_NODELAY from a listening socket to the sockets it accepts, and FlyingFox does not expose its
    /// socket, so the listener is found among this process's descriptors by its port.
    private static func disableNagle(onListenerOf port: UInt16) {
        for fd in Int32(3)..<Int32(1024) {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let found = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard found == 0, address.sin_family == sa_family_t(AF_INET), UInt16(bigEndian: address.sin_port) == port
            else { continue }
            var on: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}
