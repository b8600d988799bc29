public import Foundation

/// Locates test data that comes from outside the project (the age CCTV vectors).
///
/// `ARCHIVER_TESTDATA` names the folder directly; otherwise the folders above the package root are
/// searched for `shared/testdata`, which is where development checkouts and CI keep it.
public enum TestData {
    /// The root of the shared test data, or nil when none is found.
    public static func root(file: StaticString = #filePath) -> URL? {
        if let env = ProcessInfo.processInfo.environment["ARCHIVER_TESTDATA"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        var dir = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("shared/testdata", isDirectory: true)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        return nil
    }

    /// True when running under CI (`CI=true`), where missing test data is a failure, not a skip.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"
    }
}
