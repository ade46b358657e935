// glimpse load drives only servers on this machine.
@_spi(Testing) import GlimpseLoad
import Testing

@Suite struct EndpointTests {
    @Test(arguments: ["tcp://127.0.0.1:5555", "tcp://127.1.2.3:1", "tcp://localhost:5555", "tcp://LOCALHOST:80",
                      "tcp://[::1]:5555", "ipc:///tmp/glimpse.ipc", "ipc://glimpse.sock"])
    func localServersAreAccepted(url: String) throws {
        #expect(try Endpoint.checkLocal(url) == url)
    }

    @Test(arguments: ["tcp://10.0.0.1:5555", "tcp://0.0.0.0:5555", "tcp://192.168.1.1:5555", "tcp://128.0.0.1:5555",
                      "tcp://example.com:5555", "tcp://127.0.0.1.example.com:5555", "tcp://[::2]:5555", "tcp://[::ffff:10.0.0.1]:5555",
                      "tcp://eth0;127.0.0.1:5555", "tcp://127.0.0.256:5555", "tcp://127.0.0.1", "tcp://127.0.0.1:0",
                      "tcp://127.0.0.1:99999", "ws://127.0.0.1:5555", "inproc://x", "http://localhost:5555", "ipc://"])
    func everythingElseIsRefused(url: String) {
        #expect(throws: LoadError.self) { try Endpoint.checkLocal(url) }
    }

    @Test func theRefusalSaysWhatIsAllowed() {
        do {
            _ = try Endpoint.checkLocal("tcp://10.0.0.1:5555")
            Issue.record("tcp://10.0.0.1:5555 was accepted")
        } catch {
            #expect(error.status == .invalidArgument)
            #expect(error.description.contains("tcp://10.0.0.1:5555") && error.description.contains("tcp://127.0.0.1:PORT"))
        }
    }

    @Test func aRunAgainstARemoteServerStopsBeforeConnecting() throws {
        var configuration = LoadConfiguration(url: "tcp://10.0.0.1:5555")
        configuration.length = .requests(1)
        let runner = LoadRunner(configuration, images: try ImageSet.synthetic(count: 1, width: 64, height: 64))
        #expect(throws: LoadError.self) { try runner.run() }
    }
}
