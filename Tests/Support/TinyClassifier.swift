// Tiny image classifiers built in memory, in any input layout and size, with or without glimpse.* metadata.
import Foundation
import GlimpseCore
import GlimpseEngine
import SwiftProtobuf

/// A classifier whose three "logits" are the input's per-channel means: [1, 3, H, W] (or [1, H, W, 3]
/// followed by the NHWC→NCHW Transpose tf2onnx puts at the input) → GlobalAveragePool → Flatten → [1, 3].
/// The output tells which values went to which channel, so a layout mix-up shows.
public enum TinyClassifier {
    /// The ONNX bytes. `metadata` becomes the file's `metadata_props` (`glimpse.*` keys); none by default,
    /// as in a model exported from torchvision or tf2onnx.
    public static func onnx(height: Int, width: Int, layout: ImageLayout, channels: Int = 3,
                            metadata: [String: String] = [:]) throws -> Data {
        func info(_ name: String, _ shape: [Int]) -> Onnx_ValueInfoProto {
            var value = Onnx_ValueInfoProto()
            value.name = name
            value.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            value.type.tensorType.shape.dim = shape.map { size in
                var dim = Onnx_TensorShapeProto.Dimension()
                dim.dimValue = Int64(size)
                return dim
            }
            return value
        }
        func node(_ op: String, _ input: String, _ output: String, _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
            var n = Onnx_NodeProto()
            n.name = output
            n.opType = op
            n.input = [input]
            n.output = [output]
            n.attribute = attributes
            return n
        }
        var model = Onnx_ModelProto()
        model.irVersion = 7
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 13
        model.opsetImport = [opset]
        var nodes: [Onnx_NodeProto] = []
        let inputShape: [Int]
        var planes = "image"
        switch layout {
        case .nchw:
            inputShape = [1, channels, height, width]
        case .nhwc:
            inputShape = [1, height, width, channels]
            var perm = Onnx_AttributeProto()
            perm.name = "perm"
            perm.type = .ints
            perm.ints = [0, 3, 1, 2]
            nodes.append(node("Transpose", "image", "planes", [perm]))
            planes = "planes"
        }
        nodes.append(node("GlobalAveragePool", planes, "pooled"))
        nodes.append(node("Flatten", "pooled", "logits"))
        model.graph.name = "tiny"
        model.graph.node = nodes
        model.graph.input = [info("image", inputShape)]
        model.graph.output = [info("logits", [1, channels])]
        model.metadataProps = metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return try model.serializedData()
    }

    public static func model(height: Int, width: Int, layout: ImageLayout, channels: Int = 3,
                             metadata: [String: String] = [:], name: String = "tiny") throws -> Model {
        try Model(onnx: onnx(height: height, width: width, layout: layout, channels: channels, metadata: metadata), name: name)
    }

    /// A new folder under the system's temporary one holding `models` as `<name>.onnx`; the caller removes it.
    public static func folder(_ models: [String: Data]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("glimpse-tiny-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, data) in models {
            try data.write(to: directory.appendingPathComponent("\(name).onnx"))
        }
        return directory
    }

    /// What the model answers for `input` (a tensor in the model's layout): each channel's mean.
    public static func channelMeans(_ input: [Float], layout: ImageLayout) -> [Float] {
        let pixels = input.count / 3
        var sums = [Double](repeating: 0, count: 3)
        for (i, value) in input.enumerated() {
            sums[layout == .nchw ? i / pixels : i % 3] += Double(value)
        }
        return sums.map { Float($0 / Double(pixels)) }
    }
}
