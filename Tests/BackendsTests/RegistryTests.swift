import ArchiverKit
import Backends
import Foundation
import Testing

/// `Backends.registerAll()` makes the registry understand every spec form.
@Suite("Registration")
struct RegistryTests {
    private let context = BackendRegistry.Context(baseDirectory: "/etc/archiver")

    init() { Backends.registerAll() }

    @Test("registerAll registers local, mock and baidu")
    func schemes() {
        #expect(Set(["local", "mock", "baidu"]).isSubset(of: Set(BackendRegistry.schemes)))
        #expect(Backends.schemes == ["local", "mock", "baidu"])
    }

    @Test("local: takes absolute, relative and home-relative folders")
    func localSpecs() throws {
        let absolute = try #require(
            try BackendRegistry.make(spec: "local:/mnt/usb/archive", context: context) as? LocalBackend)
        #expect(absolute.root == "/mnt/usb/archive")
        #expect(absolute.spec == "local:/mnt/usb/archive")
        #expect(absolute.persists)

        let relative = try #require(try BackendRegistry.make(spec: "local:rel/dir", context: context) as? LocalBackend)
        #expect(relative.root == "/etc/archiver/rel/dir")
        #expect(relative.spec == "local:rel/dir")

        let dotted = try #require(try BackendRegistry.make(spec: "local:../x/./y/", context: context) as? LocalBackend)
        #expect(dotted.root == "/etc/x/y")

        let home = try #require(try BackendRegistry.make(spec: "LOCAL:~/backup", context: context) as? LocalBackend)
        #expect(home.root == URL(fileURLWithPath: NSHomeDirectory() + "/backup").standardizedFileURL.path)

        let error = #expect(throws: ArchiverError.self) { try BackendRegistry.make(spec: "local:", context: context) }
        #expect(error?.code == .usage)
    }

    @Test("mock, mock:, mock:DIR and mock:DIR?options")
    func mockSpecs() throws {
        for spec in ["mock", "mock:", " mock: "] {
            let mock = try #require(try BackendRegistry.make(spec: spec, context: context) as? MockBackend)
            #expect(!mock.persists)
            #expect(mock.directory == nil)
            #expect(mock.configuration == MockBackend.Configuration())
        }
        let dryWithOptions = try #require(
            try BackendRegistry.make(spec: "mock:?latency_ms=5", context: context) as? MockBackend)
        #expect(!dryWithOptions.persists)
        #expect(dryWithOptions.configuration.latency == .milliseconds(5))

        let directory = try #require(try BackendRegistry.make(spec: "mock:/tmp/m", context: context) as? MockBackend)
        #expect(directory.persists)
        #expect(directory.directory == "/tmp/m")

        let relative = try #require(
            try BackendRegistry.make(spec: "mock:state?fail=put:3&no_empty=1", context: context) as? MockBackend)
        #expect(relative.directory == "/etc/archiver/state")
        #expect(relative.configuration.faults == [MockBackend.Fault(.put, call: 3)])
        #expect(!relative.capabilities.allowsEmptyObjects)
        #expect(relative.spec == "mock:state?fail=put:3&no_empty=1")

        let error = #expect(throws: ArchiverError.self) {
            try BackendRegistry.make(spec: "mock:/tmp/m?fial=put:1", context: context)
        }
        #expect(error?.code == .usage)
        #expect(error?.message.contains("fial") == true)
    }
}
