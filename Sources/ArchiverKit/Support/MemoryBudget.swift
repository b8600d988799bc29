import Foundation

/// How much memory a run may use and how it is spent: the limit (the container's cgroup, or `memory_limit:`),
/// archiver's fixed base, and the slice buffers uploads hold.
///
/// The pipeline's own memory does not grow with file size (tickets × block size, a few MiB); what does grow with
/// configuration is the Baidu upload: `upload_concurrency` slice buffers of up to 32 MiB each. The plan lowers the
/// concurrency, then the slice size (never under Baidu's 4 MiB), until they fit, and refuses a limit that cannot
/// hold even one 4 MiB slice, naming what to change.
public struct MemoryPlan: Sendable, Equatable {
    /// The limit, or nil when there is none.
    public var limit: Int64?
    /// Where the limit came from (`memory_limit`, `cgroup v2 /sys/fs/cgroup/memory.max`, …).
    public var source: String
    /// What archiver needs besides upload buffers: the pipeline, the catalog, the HTTP client, the runtime.
    public var base: Int64
    /// Slice buffers in flight, and their size, when a target uploads in slices.
    public var uploadConcurrency: Int?
    public var sliceSize: Int?

    /// The planned peak.
    public var total: Int64 { base + Int64(uploadConcurrency ?? 0) * Int64(sliceSize ?? 0) }

    /// One line for the start of a run.
    public var description: String {
        let mib = { (n: Int64) in "\(n >> 20) MiB" }
        let limitText = limit.map { "limit \(mib($0)) (\(source))" } ?? "no memory limit"
        var text = "memory: \(limitText); plan \(mib(base)) base"
        if let uploadConcurrency, let sliceSize {
            text += " + \(uploadConcurrency) × \(mib(Int64(sliceSize))) upload slices"
        }
        return text + " = \(mib(total))"
    }
}

/// Reads the memory limit and plans within it.
public enum MemoryBudget {
    /// What archiver uses besides slice buffers, measured at its peak (docs/benchmarks.md) with a margin.
    public static let base: Int64 = 48 << 20
    /// The smallest slice Baidu accepts from every tier.
    public static let minimumSlice = 4 << 20
    /// The largest slice any tier uses (SVIP), assumed when the config does not lower it: the tier is not known
    /// before the backend has asked Baidu.
    public static let largestSlice = 32 << 20
    /// Values at or above this mean "no limit" in cgroup v1.
    static let unlimited: Int64 = 1 << 60

    /// The memory limit in force: `memory_limit:` when set, else the cgroup's (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`) under `ARCHIVER_CGROUP_ROOT` (default `/sys/fs/cgroup`).
    /// - Returns: the limit in bytes (nil for none) and where it came from.
    public static func limit(config: ArchiverConfig, environment: [String: String]) -> (Int64?, String) {
        switch config.memoryLimit {
        case .bytes(let bytes): return (Int64(bytes), "memory_limit")
        case .max: return (nil, "memory_limit: max")
        case nil: break
        }
        let root = environment["ARCHIVER_CGROUP_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? "/sys/fs/cgroup"
        var candidates: [(path: String, version: String)] = []
        // The process's own cgroup first (a host service), then the root (a container sees its own as the root).
        if environment["ARCHIVER_CGROUP_ROOT"] == nil, let own = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) {
            for line in own.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3 else { continue }
                if parts[0] == "0" && parts[1].isEmpty {
                    candidates.append(("\(root)\(parts[2])/memory.max", "v2"))
                } else if parts[1].split(separator: ",").contains("memory") {
                    candidates.append(("\(root)/memory\(parts[2])/memory.limit_in_bytes", "v1"))
                }
            }
        }
        candidates += [("\(root)/memory.max", "v2"), ("\(root)/memory/memory.limit_in_bytes", "v1")]
        for (path, version) in candidates {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let source = "cgroup \(version) \(path)"
            if value == "max" { return (nil, source) }
            guard let bytes = Int64(value) else { continue }
            return (bytes >= unlimited ? nil : bytes, source)
        }
        return (nil, "no cgroup limit found")
    }

    /// Plans a run within the limit, lowering the Baidu upload's concurrency and slice size when needed.
    /// - Returns: the plan and the configuration to run with.
    /// - Throws: `ArchiverError(.usage)` when the limit cannot hold the base and one 4 MiB slice, naming what to
    ///   change.
    public static func plan(_ config: ArchiverConfig, environment: [String: String]) throws -> (MemoryPlan, ArchiverConfig) {
        let (limit, source) = Self.limit(config: config, environment: environment)
        var config = config
        var plan = MemoryPlan(limit: limit, source: source, base: base)
        let uploadsInSlices = config.targets.contains { $0.scheme == "baidu" }
        guard uploadsInSlices, var baidu = config.baidu else {
            if let limit, limit < base {
                throw ArchiverError(
                    .usage,
                    "the memory limit (\(limit >> 20) MiB, \(source)) is below the \(base >> 20) MiB archiver needs: "
                        + "raise the container's memory limit (mem_limit) or memory_limit: to at least \(base >> 20) MiB")
            }
            return (plan, config)
        }
        var concurrency = baidu.uploadConcurrency
        var slice = baidu.sliceSize ?? largestSlice
        if let limit {
            let budget = limit - base
            guard budget >= Int64(minimumSlice) else {
                throw ArchiverError(
                    .usage,
                    "the memory limit (\(limit >> 20) MiB, \(source)) cannot hold archiver's \(base >> 20) MiB and one "
                        + "4 MiB upload slice: raise the container's memory limit (mem_limit) or memory_limit: to at "
                        + "least \((base + Int64(minimumSlice)) >> 20) MiB")
            }
            // Fewer slices in flight first (throughput on a home uplink barely changes), then smaller slices.
            while concurrency > 1 && Int64(concurrency) * Int64(slice) > budget { concurrency -= 1 }
            if Int64(slice) > budget {
                slice = max(minimumSlice, Int(budget >> 20) << 20)
            }
            baidu.uploadConcurrency = concurrency
            if slice != (baidu.sliceSize ?? largestSlice) { baidu.sliceSize = slice }
            config.baidu = baidu
        }
        plan.uploadConcurrency = concurrency
        plan.sliceSize = slice
        return (plan, config)
    }
}
