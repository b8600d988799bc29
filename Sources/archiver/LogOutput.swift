import ArchiverKit
import Foundation
import Logging
import Synchronization

/// Where log records and messages for people go: stderr always, and `log_file:` when the config names one.
///
/// stdout is left to what scripts parse (`--json`, recipients); swift-log's default handler would write there.
/// The level (`log_level:` / `ARCHIVER_LOG_LEVEL`) is read by every handler at each record, so loggers made before
/// the config was loaded follow it too.
enum LogOutput {
    private struct State {
        var level: Logger.Level = .info
        var file: Int32 = -1
    }

    private static let state = Mutex(State())

    /// Installs the handler; called once, first thing in `main`.
    static func bootstrap() {
        LoggingSystem.bootstrap { label in ArchiverLogHandler(label: label) }
    }

    /// Applies the config's `log_level` and `log_file` (created 0600, appended to).
    /// - Throws: `ArchiverError(.usage)` when the log file cannot be opened.
    static func configure(level: Logger.Level, file: String?) throws {
        var fd: Int32 = -1
        if let file {
            fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw ArchiverError(
                    .usage,
                    "cannot open the log file \(file) (log_file): \(String(cString: strerror(errno))); "
                        + "check that its folder exists and is writable")
            }
        }
        let old = state.withLock { s -> Int32 in
            defer { s = State(level: level, file: fd) }
            return s.file
        }
        if old >= 0 { close(old) }
    }

    private static let isTerminal = isatty(2) == 1

    static var level: Logger.Level { state.withLock { $0.level } }

    /// Writes a line to stderr and, with a timestamp, to the log file.
    static func write(_ line: String, level: String) {
        // On a terminal, first clear a live progress line, which the next tick redraws below this one.
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + line + "\n").utf8))
        let fd = state.withLock { $0.file }
        guard fd >= 0 else { return }
        let stamped = "\(timestamp()) \(level) \(line)\n"
        stamped.utf8CString.withUnsafeBufferPointer { buffer in
            // One write per line with O_APPEND: lines from several processes never interleave mid-line.
            _ = Glibc.write(fd, buffer.baseAddress, buffer.count - 1)
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// swift-log records as `archiver[label] level: message key=value`.
struct ArchiverLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    private var override: Logger.Level?

    init(label: String) { self.label = label }

    var logLevel: Logger.Level {
        get { override ?? LogOutput.level }
        set { override = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: " ")
        LogOutput.write("\(label) \(event.level): \(event.message)\(fields)", level: "\(event.level)")
    }
}
