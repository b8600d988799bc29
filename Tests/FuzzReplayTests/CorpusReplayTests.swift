import Foundation
import FuzzEntries
import Testing

/// Replays every saved fuzz input (fuzz/corpus/<target>/ and fuzz/crashes/<target>/) through the same entry points
/// libFuzzer calls, without sanitizers, so a fixed crash stays fixed and the corpus keeps passing in every test run.
@Suite struct CorpusReplayTests {
    /// The fuzz folder of this checkout.
    static let fuzzFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz")

    /// Every saved input as `corpus/<target>/<file>` or `crashes/<target>/<file>`, relative to fuzz/.
    static let inputs: [String] = {
        var found: [String] = []
        for kind in ["corpus", "crashes"] {
            let folder = fuzzFolder.appendingPathComponent(kind)
            let targets = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for target in targets.sorted() {
                let files = (try? FileManager.default.contentsOfDirectory(
                    atPath: folder.appendingPathComponent(target).path)) ?? []
                found += files.sorted().filter { !$0.hasPrefix(".") }.map { "\(kind)/\(target)/\($0)" }
            }
        }
        return found
    }()

    @Test(arguments: inputs)
    func replays(_ input: String) throws {
        let parts = input.split(separator: "/")
        let target = try #require(FuzzEntries.target(named: String(parts[1])), "no fuzz target named \(parts[1])")
        let bytes = try [UInt8](Data(contentsOf: Self.fuzzFolder.appendingPathComponent(input)))
        bytes.withUnsafeBytes { target.run($0) }
    }

    @Test(arguments: FuzzEntries.targets.map(\.name))
    func everyTargetHasSeeds(_ name: String) throws {
        #expect(Self.inputs.contains { $0.hasPrefix("corpus/\(name)/") }, "fuzz/corpus/\(name) is empty or missing")
    }

    @Test func entriesSurviveDegenerateInputs() {
        let inputs: [[UInt8]] = [
            [], [0], [0x1f, 0x8b], Array("age-encryption.org/v1\n".utf8), [UInt8](repeating: 0xff, count: 70_000),
        ]
        for target in FuzzEntries.targets {
            for input in inputs { input.withUnsafeBytes { target.run($0) } }
        }
    }
}
