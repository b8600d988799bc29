// The fake Baidu Netdisk server; see FakeServer.swift.
print("baidu-fake: not built yet")
