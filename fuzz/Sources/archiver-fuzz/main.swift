import FuzzEntries
import Foundation

// Built with `-parse-as-library`: the entry point is FuzzDriver's, which runs libFuzzer's driver; libFuzzer calls
// LLVMFuzzerTestOneInput for every input.
// One executable serves every target; FUZZ_TARGET (set by run.sh) names the one to run.

/// The target this process fuzzes, chosen once.
let selected: FuzzEntries.Target = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzEntries.target(named: name) else {
        let names = FuzzEntries.targets.map(\.name).joined(separator: ", ")
        FileHandle.standardError.write(Data("set FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

/// libFuzzer's entry point: one input per call.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer?, _ count: Int) -> CInt {
    selected.run(UnsafeRawBufferPointer(start: data, count: count))
    return 0
}
