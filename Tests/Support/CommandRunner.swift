public import Foundation

/// The result of running a program.
public struct CommandResult: Sendable {
    /// Exit status (or 128 + signal).
    public var status: Int32
    /// Everything written to stdout.
    public var stdout: [UInt8]
    /// Everything written to stderr, as text.
    public var stderr: String
    /// stdout as text.
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// The last line of stdout as a JSON object: the summary of a `--json` run (JSON Lines, summary last).
    public var jsonSummary: [String: Any]? {
        guard let line = stdoutText.split(separator: "\n").last else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}

/// Runs programs for tests: the built `archiver` binary and stock tools (`age`, `gzip`).
public enum CommandRunner {
    /// The folder holding the built products (`.build/debug`), found from the test bundle's location.
    public static var productsDirectory: URL {
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            return bundle.bundleURL.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// The built `archiver` executable.
    public static var archiver: String { productsDirectory.appendingPathComponent("archiver").path }

    /// Runs `archiver` with arguments.
    /// - Parameters:
    ///   - arguments: the command line after the program name.
    ///   - stdin: bytes for standard input.
    ///   - environment: extra environment variables.
    ///   - directory: the working directory.
    public static func archiver(
        _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:], in directory: URL? = nil
    ) throws -> CommandResult {
        try run(archiver, arguments, stdin: stdin, environment: environment, in: directory)
    }

    /// Runs a program and collects its output. stdin is written from another thread so large inputs cannot
    /// deadlock against a full stdout pipe.
    /// - Parameters:
    ///   - path: the executable.
    ///   - arguments: its arguments.
    ///   - stdin: bytes for standard input.
    ///   - environment: extra environment variables.
    ///   - directory: the working directory.
    public static func run(
        _ path: String, _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:],
        in directory: URL? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let writer = Thread {
            if !stdin.isEmpty { input.fileHandleForWriting.write(Data(stdin)) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let errorBox = DataBox()
        let errorReader = Thread { errorBox.data = errors.fileHandleForReading.readDataToEndOfFile() }
        errorReader.start()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while errorBox.data == nil { usleep(1000) }
        return CommandResult(
            status: process.terminationStatus, stdout: [UInt8](out),
            stderr: String(decoding: errorBox.data ?? Data(), as: UTF8.self))
    }

    /// Whether a program exists and is executable.
    public static func exists(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }
}

private final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Data?
    var data: Data? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
