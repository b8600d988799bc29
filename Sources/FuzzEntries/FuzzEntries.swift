/// The entry points that libFuzzer (fuzz/) and the corpus replay tests feed with arbitrary bytes.
///
/// Each entry must return normally for any input, however malformed: the parsers report bad input by throwing, and
/// an entry swallows those errors. An entry traps only on a real defect: a crash in the code under test, or a
/// broken invariant it checks (`precondition`), such as a parser that accepts what it cannot write back or a
/// streaming decoder whose answer depends on how its input was split.
public enum FuzzEntries {
    /// One fuzz target: its name (the folder under fuzz/corpus and fuzz/crashes) and its entry.
    public struct Target: Sendable {
        /// The name used by `fuzz/run.sh`, the corpus folders and `FUZZ_TARGET`.
        public let name: String
        /// Runs one input; traps only on a defect.
        public let run: @Sendable (UnsafeRawBufferPointer) -> Void
    }

    /// Every target, in the order `fuzz/run.sh` runs them.
    public static let targets: [Target] = [
        Target(name: "age-header", run: ageHeader),
        Target(name: "age-stream", run: ageStream),
        Target(name: "gzip", run: inflate),
        Target(name: "config", run: config),
        Target(name: "baidu-json", run: baiduAnswer),
    ]

    /// The target with this name, or nil.
    /// - Parameter name: a target name such as `age-header`.
    public static func target(named name: String) -> Target? {
        targets.first { $0.name == name }
    }

    /// A piece size for feeding a streaming decoder, derived from the input so the fuzzer can vary it.
    static func pieceSize(for input: UnsafeRawBufferPointer) -> Int {
        input.count % 251 + 1
    }

    /// Feeds `input` to `feed` in pieces of `size` bytes.
    static func inPieces(_ input: UnsafeRawBufferPointer, of size: Int, _ feed: (UnsafeRawBufferPointer) throws -> Void)
        rethrows
    {
        var start = 0
        repeat {
            let end = min(start + size, input.count)
            try feed(UnsafeRawBufferPointer(rebasing: input[start..<end]))
            start = end
        } while start < input.count
    }
}
