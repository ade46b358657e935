// What a server is told at start: where to listen, which models, how many workers, what limits.
import Foundation

public struct ServerConfiguration: Sendable {
    /// nanomsg URLs to bind, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/glimpse.ipc.
    public var listen: [String] = ["tcp://127.0.0.1:5555"]
    /// Folder of <name>.onnx models.
    public var modelsDirectory = URL(fileURLWithPath: "models")
    /// Models to load; nil loads every model in the folder.
    public var models: [String]?
    /// The model a request gets when it names none; nil means the first loaded.
    public var defaultModel: String?
    /// Worker threads, each running one request at a time with its own sessions.
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    /// Requests waiting for a worker; beyond this the server answers RESOURCE_EXHAUSTED at once.
    public var queueCapacity = 64
    /// Result cache budget in bytes (keys, which hold the request bytes, count); 0 turns it off.
    public var cacheBytes = 64 << 20
    public var cacheEntries = 100_000
    /// Frames larger than this are dropped by nanomsg, which also closes the connection that sent
    /// them (NN_RCVMAXSIZE): the sender gets no reply. Keep it above `maxPayloadBytes`.
    public var maxMessageBytes = 16 << 20
    /// A JPEG or tensor larger than this gets a RESOURCE_EXHAUSTED reply that names the limit.
    public var maxPayloadBytes = 8 << 20
    /// Kernel variant ("scalar", "avx2", "avx512", "neon"); nil: $GLIMPSE_KERNELS, else the best this CPU runs.
    public var kernels: String?
    /// Threads one request may use. 1 (the default) lets the server scale across requests instead.
    public var threadsPerRequest = 1

    public init() {}
}
