import Foundation
import Testing

@testable import ArchiverKit

/// The memory plan: the limit read from a (fake) cgroup tree or the config, and the Baidu upload fitted into it.
@Suite("Memory budget")
struct MemoryBudgetTests {
    private func config(_ extra: String = "") throws -> ArchiverConfig {
        let yaml = """
            catalog: /tmp/c.sqlite
            backend: "baidu:"
            recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
            sources:
              - local: /tmp/src
                remote: home
            baidu:
              app_name: e2bdy
              app_key: k
              secret_key: s
            \(extra)
            """
        return try ConfigLoader.parse(yaml: yaml, path: "/tmp/config.yml", environment: [:]).config
    }

    /// A cgroup tree with one file.
    private func cgroup(_ file: String, _ value: String) throws -> (root: String, remove: () -> Void) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID().uuidString)")
        let path = root.appendingPathComponent(file)
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data((value + "\n").utf8).write(to: path)
        return (root.path, { try? FileManager.default.removeItem(at: root) })
    }

    @Test("a 64 MiB cgroup v2 limit: one slice in flight, 16 MiB slices")
    func tightV2() throws {
        let (root, remove) = try cgroup("memory.max", String(64 << 20))
        defer { remove() }
        let (plan, planned) = try MemoryBudget.plan(try config(), environment: ["ARCHIVER_CGROUP_ROOT": root])
        #expect(plan.limit == 64 << 20)
        #expect(plan.source.contains("v2"))
        #expect(planned.baidu?.uploadConcurrency == 1)
        #expect(planned.baidu?.sliceSize == 16 << 20)
        #expect(plan.total <= 64 << 20)
        #expect(plan.description.contains("limit 64 MiB"))
    }

    @Test("'max' means no limit: the configuration is kept")
    func unlimited() throws {
        let (root, remove) = try cgroup("memory.max", "max")
        defer { remove() }
        let (plan, planned) = try MemoryBudget.plan(try config(), environment: ["ARCHIVER_CGROUP_ROOT": root])
        #expect(plan.limit == nil)
        #expect(planned.baidu?.uploadConcurrency == 2)
        #expect(planned.baidu?.sliceSize == nil)
    }

    @Test("cgroup v1: memory.limit_in_bytes, and its huge 'unlimited' value")
    func v1() throws {
        let (root, remove) = try cgroup("memory/memory.limit_in_bytes", String(1 << 30))
        defer { remove() }
        let (plan, planned) = try MemoryBudget.plan(try config(), environment: ["ARCHIVER_CGROUP_ROOT": root])
        #expect(plan.limit == 1 << 30)
        #expect(plan.source.contains("v1"))
        #expect(planned.baidu?.uploadConcurrency == 2)
        let (unlimitedRoot, removeUnlimited) = try cgroup("memory/memory.limit_in_bytes", "9223372036854771712")
        defer { removeUnlimited() }
        #expect(try MemoryBudget.plan(try config(), environment: ["ARCHIVER_CGROUP_ROOT": unlimitedRoot]).0.limit == nil)
    }

    @Test("memory_limit overrides the cgroup; a limit too small is refused, naming what to change")
    func configOverridesAndRefuses() throws {
        let (root, remove) = try cgroup("memory.max", String(8 << 30))
        defer { remove() }
        let (plan, _) = try MemoryBudget.plan(try config("memory_limit: 100MiB"), environment: ["ARCHIVER_CGROUP_ROOT": root])
        #expect(plan.limit == 100 << 20)
        #expect(plan.source == "memory_limit")
        let error = #expect(throws: ArchiverError.self) {
            try MemoryBudget.plan(try config("memory_limit: 50MiB"), environment: ["ARCHIVER_CGROUP_ROOT": root])
        }
        #expect(error?.code == .usage)
        #expect(error?.message.contains("at least 52 MiB") == true, "\(error?.message ?? "")")
    }
}
