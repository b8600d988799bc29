import Foundation

/// Messages for people go to stderr (and `log_file:`); stdout carries only what a script may parse (recipients,
/// JSON).
enum Terminal {
    static func error(_ message: String) {
        LogOutput.write("archiver: error: \(message)", level: "error")
    }

    static func warning(_ message: String) {
        LogOutput.write("archiver: warning: \(message)", level: "warning")
    }

    static func note(_ message: String) {
        LogOutput.write(message, level: "notice")
    }

    static func output(_ line: String) {
        FileHandle.standardOutput.write(Data("\(line)\n".utf8))
    }
}
