import Foundation

/// Messages for people go to stderr; stdout carries only what a script may parse (recipients, JSON).
enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("archiver: error: \(message)\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("archiver: warning: \(message)\n".utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    static func output(_ line: String) {
        FileHandle.standardOutput.write(Data("\(line)\n".utf8))
    }
}
