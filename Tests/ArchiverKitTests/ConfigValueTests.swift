import ArchiverKit
import Testing

@Suite("Config: single values")
struct ConfigValueTests {
    static let durations: [(String, Int64)] = [
        ("500ms", 500), ("8s", 8000), ("2m", 120_000), ("1h", 3_600_000), ("8", 8000), ("0", 0),
        (" 30 s ", 30_000), ("1H", 3_600_000),
    ]

    @Test("durations", arguments: durations)
    func duration(_ text: String, _ milliseconds: Int64) throws {
        #expect(try ConfigValue.duration(text) == .milliseconds(milliseconds))
    }

    @Test("malformed durations", arguments: ["", "s", "8sec", "1.5s", "-1s", "1d", "8 s s", "99999999999999999h"])
    func badDuration(_ text: String) {
        #expect(throws: ValueProblem.self) { try ConfigValue.duration(text) }
    }

    static let sizes: [(String, Int)] = [
        ("0", 0), ("512", 512), ("512B", 512), ("1KB", 1000), ("1KiB", 1024), ("1k", 1024), ("2MB", 2_000_000),
        ("512MiB", 512 << 20), ("512m", 512 << 20), ("512Mi", 512 << 20), ("1GB", 1_000_000_000),
        ("1GiB", 1 << 30), ("1g", 1 << 30), ("2 GiB", 2 << 30), ("1gib", 1 << 30),
    ]

    @Test("sizes", arguments: sizes)
    func size(_ text: String, _ expected: Int) throws {
        #expect(try ConfigValue.byteCount(text) == expected)
    }

    @Test("malformed sizes", arguments: ["", "MiB", "1.5GiB", "-1k", "1TB", "1 G B", "lots", "99999999999GiB"])
    func badSize(_ text: String) {
        #expect(throws: ValueProblem.self) { try ConfigValue.byteCount(text) }
    }

    @Test("memory limits: max, and at least 1 MiB")
    func memoryLimit() throws {
        #expect(try ConfigValue.memoryLimit("max") == .max)
        #expect(try ConfigValue.memoryLimit("MAX") == .max)
        #expect(try ConfigValue.memoryLimit("1MiB") == .bytes(1 << 20))
        #expect(throws: ValueProblem.self) { try ConfigValue.memoryLimit("1000KB") }
    }

    @Test(
        "remote folders the original tool accepted",
        arguments: ["photos", "family/photos", "2024", "a.b/c..d", "photos 2024", "照片"])
    func goodRemote(_ remote: String) throws {
        #expect(try ConfigValue.remotePath(remote) == remote)
    }

    static let dotted = "must not contain a '.' or '..' component"
    static let badRemotes: [(String, String)] = [
        ("", "must not be empty"), ("/photos", "must not start with '/'"), ("/", "must not start with '/'"),
        ("./photos", "must not start with './'"), ("photos/", "must not end with '/'"),
        ("a//b", "must not contain '//'"), ("a/./b", dotted), ("a/../b", dotted), ("..", dotted), (".", dotted),
        ("a/..", dotted),
    ]

    @Test("remote folders refused, with the rule each breaks", arguments: badRemotes)
    func badRemote(_ remote: String, _ rule: String) {
        let problem = #expect(throws: ValueProblem.self) { try ConfigValue.remotePath(remote) }
        #expect(problem?.text.hasPrefix(rule) == true, "\(problem?.text ?? "")")
    }

    @Test("time windows, wrapping midnight")
    func windows() throws {
        let night = try ConfigValue.timeWindow("01:00-07:00")
        #expect(night == .init(startMinute: 60, endMinute: 420))
        #expect(night.contains(minuteOfDay: 60))
        #expect(!night.contains(minuteOfDay: 420))
        #expect(night.description == "01:00-07:00")
        let wrap = try ConfigValue.timeWindow("23:30 - 6:15")
        #expect(wrap == .init(startMinute: 23 * 60 + 30, endMinute: 6 * 60 + 15))
        #expect(wrap.contains(minuteOfDay: 23 * 60 + 45))
        #expect(wrap.contains(minuteOfDay: 0))
        #expect(!wrap.contains(minuteOfDay: 12 * 60))
        for bad in ["01:00", "1-7", "24:00-07:00", "01:60-02:00", "01:00-01:00", "a:b-c:d", "01:00-07:00-08:00"] {
            #expect(throws: ValueProblem.self, "\(bad)") { try ConfigValue.timeWindow(bad) }
        }
    }

    @Test("schedules: five fields or a macro")
    func schedules() throws {
        #expect(try ConfigValue.schedule("0 21 * * *") == "0 21 * * *")
        #expect(try ConfigValue.schedule(" */15  1-5 * jan,jul MON ") == "*/15 1-5 * jan,jul MON")
        #expect(try ConfigValue.schedule("@Daily") == "@daily")
        for bad in ["", "0 21 * *", "0 0 21 * * *", "@often", "0 21 * * * *", "0 21 * * $"] {
            #expect(throws: ValueProblem.self, "\(bad)") { try ConfigValue.schedule(bad) }
        }
    }

    @Test("switches", arguments: ["on", "true", "yes", "1", "ON", "Yes"])
    func on(_ text: String) throws {
        #expect(try ConfigValue.bool(text))
    }

    @Test("switches off", arguments: ["off", "false", "no", "0", "OFF"])
    func off(_ text: String) throws {
        #expect(try !ConfigValue.bool(text))
    }

    @Test("paths resolve against the config folder by text alone")
    func paths() throws {
        #expect(try ConfigValue.path("a/b", base: "/cfg") == "/cfg/a/b")
        #expect(try ConfigValue.path("/x/./y//z/", base: "/cfg") == "/x/y/z")
        #expect(try ConfigValue.path("../../../up", base: "/cfg/sub") == "/up")
        #expect(throws: ValueProblem.self) { try ConfigValue.path("~/x", base: "/cfg") }
        #expect(throws: ValueProblem.self) { try ConfigValue.path("", base: "/cfg") }
    }

    @Test("backend specs need a scheme")
    func specs() throws {
        #expect(try ConfigValue.backendSpec(" local:/mnt/usb ") == "local:/mnt/usb")
        #expect(try ConfigValue.backendSpec("baidu") == "baidu")
        for bad in ["", "/mnt/usb", ":x", "my disk:/x"] {
            #expect(throws: ValueProblem.self, "\(bad)") { try ConfigValue.backendSpec(bad) }
        }
    }

    @Test("typo suggestions")
    func suggestions() {
        #expect(ConfigKeys.closest(to: "compresion", among: ConfigKeys.root) == "compression")
        #expect(ConfigKeys.closest(to: "time_zone", among: ConfigKeys.root) == "timezone")
        #expect(ConfigKeys.closest(to: "Log-Level", among: ConfigKeys.root) == "log_level")
        #expect(ConfigKeys.closest(to: "recipient", among: ConfigKeys.root) == "recipients")
        #expect(ConfigKeys.closest(to: "nmaing", among: ConfigKeys.root) == "naming")
        #expect(ConfigKeys.closest(to: "vip_type", among: ConfigKeys.baidu) == nil)
        #expect(ConfigKeys.closest(to: "ap", among: ConfigKeys.endpoints) == "api")
    }
}
