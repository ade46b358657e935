// Models the engine cannot run get errors that name the model, operator and node.
import Foundation
import GlimpseCore
import GlimpseEngine
import SwiftProtobuf
import Testing

/// A one-node float model built in memory: x [1, 2, 4, 4] → op → y.
func tinyModel(op: String, node: String = "n1", attributes: [Onnx_AttributeProto] = [],
               extraInputs: [Onnx_TensorProto] = [], inputShape: [Int64] = [1, 2, 4, 4],
               outputShape: [Int64] = [1, 2, 4, 4]) throws -> Data {
    func info(_ name: String, _ shape: [Int64]) -> Onnx_ValueInfoProto {
        var value = Onnx_ValueInfoProto()
        value.name = name
        value.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        value.type.tensorType.shape.dim = shape.map { size in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = size
            return dim
        }
        return value
    }
    var model = Onnx_ModelProto()
    model.irVersion = 7
    var opset = Onnx_OperatorSetIdProto()
    opset.version = 13
    model.opsetImport = [opset]
    var n = Onnx_NodeProto()
    n.name = node
    n.opType = op
    n.input = ["x"] + extraInputs.map(\.name)
    n.output = ["y"]
    n.attribute = attributes
    model.graph.node = [n]
    model.graph.initializer = extraInputs
    model.graph.input = [info("x", inputShape)]
    model.graph.output = [info("y", outputShape)]
    return try model.serializedData()
}

@Suite struct ModelErrorTests {
    @Test func unknownOperatorIsNamedWithItsNode() throws {
        let data = try tinyModel(op: "NonMaxSuppression", node: "detector/nms")
        #expect(throws: EngineError.unsupportedOperator(op: "NonMaxSuppression", node: "detector/nms")) {
            try Model(onnx: data, name: "tiny")
        }
    }

    @Test func unreadAttributeIsReportedNotIgnored() throws {
        var attribute = Onnx_AttributeProto()
        attribute.name = "approximate"
        attribute.s = Data("tanh".utf8)
        let data = try tinyModel(op: "Relu", attributes: [attribute])
        #expect(throws: EngineError.unsupportedFeature(node: "n1", what: "attribute 'approximate'")) {
            try Model(onnx: data, name: "tiny")
        }
    }

    @Test func garbageBytesAreAnUnreadableModel() {
        do {
            _ = try Model(onnx: Data([0xFF, 0x13, 0x07, 0x00, 0x99]), name: "junk")
            Issue.record("garbage loaded as a model")
        } catch {
            guard case .unreadableModel("junk", _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.status == .failedPrecondition)
        }
    }

    @Test func missingModelNamesWhatIsLoaded() throws {
        let repository = ModelRepository(directory: Fixtures.models)
        let error = #expect(throws: EngineError.self) { try repository.load("lite9") }
        #expect(error == .modelNotFound("lite9", available: ["lite0", "lite1", "lite2"]))
        #expect(error?.status == .notFound)
        #expect(error?.description == "model 'lite9' not found; loaded: lite0, lite1, lite2")
    }

    @Test func pathsOutsideTheFolderAreNotModels() {
        let repository = ModelRepository(directory: Fixtures.models)
        #expect(throws: EngineError.self) { try repository.load("../models/lite0") }
    }

    @Test func wrongInputShapeIsInvalidArgument() throws {
        let model = try Model(onnx: tinyModel(op: "Relu"), name: "tiny")
        let error = #expect(throws: EngineError.self) { try model.run(["x": Tensor(zeros: [1, 2, 4, 5])]) }
        #expect(error?.status == .invalidArgument)
    }

    @Test func oneDimensionalConvIsUnimplementedNotACrash() throws {
        var w = Onnx_TensorProto()
        w.name = "w"
        w.dims = [2, 2, 3]
        w.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        w.floatData = Array(repeating: 0.5, count: 12)
        let data = try tinyModel(op: "Conv", extraInputs: [w], inputShape: [1, 2, 8], outputShape: [1, 2, 6])
        #expect(throws: EngineError.unsupportedFeature(node: "n1", what: "1-D convolution (only 2-D)")) {
            try Model(onnx: data, name: "tiny")
        }
    }

    @Test func classifierInfoComesFromMetadata() throws {
        let info = try ClassifierInfo(model: Fixtures.model("lite1"))
        #expect(info.inputHeight == 240 && info.inputWidth == 240 && info.layout == .nchw && info.defaults.isEmpty)
        #expect(info.mean == [127, 127, 127] && info.std == [128, 128, 128])
        #expect(info.labels.count == 1000 && info.labels[967] == "espresso")
        #expect(info.version.hasPrefix("1-"))
    }
}
