// The calls that need a worker: validated on the front, executed on a worker.
import Foundation
import GlimpseCore
import GlimpseEngine
import GlimpseImage
import GlimpseProtocol
import Logging

/// A call's failure, with the gRPC status it is answered with.
struct CallError: StatusError {
    var status: StatusCode
    var description: String

    init(_ status: StatusCode, _ message: String) {
        self.status = status
        description = message
    }

    init(_ error: any StatusError) {
        status = error.status
        description = error.description
    }
}

/// A model the server holds, and what it needs to classify images with it.
final class LoadedModel: Sendable {
    let name: String
    let model: Model
    /// Position in the server's model list (the metrics label index).
    let index: Int
    /// nil for models that do not take one RGB image, [1, 3, H, W] or [1, H, W, 3] (they still serve Infer).
    let classifier: ClassifierInfo?

    /// Reads the model's classifier description once, so a model without metadata logs its one warning
    /// about the defaults here, at load.
    init(name: String, model: Model, index: Int, logger: Logger) {
        self.name = name
        self.model = model
        self.index = index
        classifier = try? ClassifierInfo(model: model, logger: logger)
    }

    var version: String { classifier?.version ?? model.metadata["glimpse.version"] ?? "unversioned" }

    var preprocessing: Preprocessing? {
        classifier.map {
            Preprocessing(height: $0.inputHeight, width: $0.inputWidth, layout: $0.layout,
                          resizeRatio: $0.resizeRatio, mean: $0.mean, std: $0.std)
        }
    }
}

/// A validated call, ready for a worker.
enum Call: Sendable {
    case classifyJPEG(Data, topK: Int)
    case classifyTensor(Data, topK: Int)
    /// Raw FP32 bytes for each model input, in the model's input order.
    case infer([Data])
}

extension Call {
    /// The parameters and bytes that decide the answer (the cache key's call-specific part).
    var identity: (parameters: String, payload: [Data]) {
        switch self {
        case let .classifyJPEG(bytes, topK): ("jpeg top=\(topK)", [bytes])
        case let .classifyTensor(raw, topK): ("tensor top=\(topK)", [raw])
        case let .infer(raws): ("infer", raws)
        }
    }

    /// Checks a Classify request against the model and the server's limits.
    static func classify(_ request: Glimpse_V1_ClassifyRequest, model: LoadedModel, maxPayload: Int) throws(CallError) -> Call {
        guard let info = model.classifier else {
            throw CallError(.invalidArgument, "model '\(model.name)' is not an image classifier (inputs \(model.model.inputs.map(\.shape))); use Infer")
        }
        let topK = min(request.topK == 0 ? 5 : Int(request.topK), max(info.labels.count, model.model.outputs.first.map { $0.shape.reduce(1, *) } ?? 1))
        switch request.input {
        case let .jpeg(bytes)?:
            guard !bytes.isEmpty else { throw CallError(.invalidArgument, "the JPEG is empty: ClassifyRequest.jpeg has 0 bytes") }
            guard bytes.count <= maxPayload else {
                throw CallError(.resourceExhausted, "JPEG of \(bytes.count) bytes is over this server's limit of \(maxPayload) bytes")
            }
            return .classifyJPEG(bytes, topK: topK)
        case let .tensor(tensor)?:
            let raw = try validate(tensor, against: model.model.inputs[0], maxPayload: maxPayload)
            return .classifyTensor(raw, topK: topK)
        case nil:
            throw CallError(.invalidArgument, "ClassifyRequest has neither jpeg nor tensor")
        }
    }

    /// Checks an Infer request: one tensor per model input, by name (or by position when unnamed).
    static func infer(_ request: Glimpse_V1_InferRequest, model: LoadedModel, maxPayload: Int) throws(CallError) -> Call {
        let specs = model.model.inputs
        guard request.inputs.count == specs.count else {
            throw CallError(.invalidArgument, "model '\(model.name)' takes \(specs.count) input(s) \(specs.map(\.name)), got \(request.inputs.count)")
        }
        var raws: [Data] = []
        for (position, spec) in specs.enumerated() {
            let tensor = request.inputs.first { $0.name == spec.name }
                ?? (request.inputs[position].name.isEmpty ? request.inputs[position] : nil)
            guard let tensor else {
                throw CallError(.invalidArgument, "no tensor for input '\(spec.name)'; got \(request.inputs.map(\.name))")
            }
            raws.append(try validate(tensor, against: spec, maxPayload: maxPayload))
        }
        return .infer(raws)
    }

    private static func validate(_ tensor: Glimpse_V1_Tensor, against spec: TensorSpec, maxPayload: Int) throws(CallError) -> Data {
        guard tensor.datatype == .fp32 else {
            throw CallError(.invalidArgument, "tensor '\(spec.name)' has datatype \(tensor.datatype); the model takes FP32")
        }
        let shape = tensor.shape.map { Int($0) }
        guard shape == spec.shape else {
            throw CallError(.invalidArgument, "tensor '\(spec.name)' has shape \(shape); the model takes \(spec.shape)")
        }
        guard tensor.rawContents.count <= maxPayload else {
            throw CallError(.resourceExhausted, "tensor of \(tensor.rawContents.count) bytes is over this server's limit of \(maxPayload) bytes")
        }
        let expected = spec.shape.reduce(1, *) * MemoryLayout<Float>.size
        guard tensor.rawContents.count == expected else {
            throw CallError(.invalidArgument, "tensor '\(spec.name)' has \(tensor.rawContents.count) bytes; shape \(spec.shape) in FP32 needs \(expected)")
        }
        return tensor.rawContents
    }
}

/// One worker's means of running calls: a session (arena) and an image pipeline per model.
final class Executor {
    private struct Slot {
        let model: LoadedModel
        let session: Session
        let pipeline: ImagePipeline?
    }

    private var slots: [String: Slot] = [:]

    init(models: [LoadedModel], threads: Int) {
        for model in models {
            slots[model.name] = Slot(model: model, session: model.model.makeSession(threads: threads),
                                     pipeline: model.preprocessing.map { ImagePipeline($0) })
        }
    }

    /// Runs `call`, returning the serialized response body and the time spent in each stage (µs):
    /// fill the inputs (decoding a JPEG is the preprocessing), run the model, build the reply.
    func run(_ call: Call, on name: String) throws(CallError) -> (body: Data, preprocess: UInt64, inference: UInt64) {
        let slot = slots[name]!
        let start = monotonicNanoseconds()
        switch call {
        case let .classifyJPEG(bytes, _):
            let failure: ImageError? = bytes.withUnsafeBytes { raw in
                do throws(ImageError) { try slot.pipeline!.preprocess(jpeg: raw, into: slot.session.input()) } catch { return error }
                return nil
            }
            if let failure { throw CallError(failure) }
        case let .classifyTensor(raw, _):
            copy(raw, into: slot.session.input())
        case let .infer(raws):
            for (index, raw) in raws.enumerated() { copy(raw, into: slot.session.input(index)) }
        }
        let ready = monotonicNanoseconds()
        slot.session.run()
        let done = monotonicNanoseconds()
        var timing = Glimpse_V1_Timing()
        timing.preprocessUs = (ready - start) / 1000
        timing.inferenceUs = (done - ready) / 1000
        let body: Data
        switch call {
        case let .classifyJPEG(_, topK), let .classifyTensor(_, topK):
            var response = Glimpse_V1_ClassifyResponse()
            response.model = slot.model.name
            response.modelVersion = slot.model.version
            response.classes = topPredictions(slot.session.output(), k: topK, labels: slot.model.classifier?.labels ?? []).map { p in
                var c = Glimpse_V1_Classification()
                c.index = Int32(p.index)
                c.label = p.label
                c.probability = p.probability
                return c
            }
            response.timing = timing
            body = serialized(response)
        case .infer:
            var response = Glimpse_V1_InferResponse()
            response.model = slot.model.name
            response.modelVersion = slot.model.version
            response.outputs = slot.model.model.outputs.enumerated().map { index, spec in
                var tensor = Glimpse_V1_Tensor()
                tensor.name = spec.name
                tensor.datatype = .fp32
                tensor.shape = spec.shape.map { Int64($0) }
                tensor.rawContents = Data(buffer: slot.session.output(index))
                return tensor
            }
            response.timing = timing
            body = serialized(response)
        }
        return (body, timing.preprocessUs, timing.inferenceUs)
    }

    private func copy(_ raw: Data, into input: UnsafeMutableBufferPointer<Float>) {
        raw.withUnsafeBytes { bytes in
            UnsafeMutableRawBufferPointer(input).copyMemory(from: bytes)
        }
    }
}

func serialized(_ message: some SwiftProtobuf.Message) -> Data {
    (try? message.serializedData()) ?? Data()
}

import SwiftProtobuf
