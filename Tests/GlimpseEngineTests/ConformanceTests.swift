// The ONNX backend node tests (Debian libonnx-testdata) for every operator the engine supports.
import Foundation
import GlimpseEngine
import Testing

/// Runs each node test whose operators are all supported, and checks its outputs with the
/// suite's own tolerance (onnx.backend.test: rtol 1e-3, atol 1e-7).
@Suite struct ConformanceTests {
    static let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["GLIMPSE_ONNX_TESTDATA"]
        ?? "/usr/share/libonnx-testdata/data/node")

    /// Inputs the engine takes as load-time constants, as a model would carry them in initializers:
    /// convolution weights are packed at load, and shapes and axes fix the plan.
    static let parameterInputs: [String: Set<Int>] = [
        "Conv": [1, 2], "BatchNormalization": [1, 2, 3, 4], "Reshape": [1], "Squeeze": [1], "Unsqueeze": [1],
        "ReduceMean": [1], "Pad": [1, 2, 3],
    ]

    /// Tests of supported operators that use a feature the engine leaves out, and why. Each must
    /// fail to load with UNIMPLEMENTED (so a newly supported feature shows up here as a failure).
    static let knownUnsupported: [String: String] = {
        var known: [String: String] = [:]
        for name in ["test_add_uint8", "test_sub_uint8", "test_mul_uint8", "test_div_uint8", "test_maxpool_2d_uint8",
                     "test_clip_default_int8_inbounds", "test_clip_default_int8_max", "test_clip_default_int8_min"] {
            known[name] = "integer tensors (float32 only)"
        }
        // The suite's only edge and reflect Pad tests pad int32 data; ZooTests' pad_edge and pad_reflect
        // check those modes against ONNX Runtime on float32.
        for name in ["test_edge_pad", "test_reflect_pad"] { known[name] = "integer tensors (float32 only)" }
        for name in ["test_averagepool_1d_default", "test_averagepool_3d_default", "test_maxpool_1d_default", "test_maxpool_3d_default"] {
            known[name] = "1-D and 3-D pooling (2-D only)"
        }
        for name in ["test_maxpool_with_argmax_2d_precomputed_pads", "test_maxpool_with_argmax_2d_precomputed_strides"] {
            known[name] = "MaxPool indices output"
        }
        for name in ["test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode", "test_training_dropout",
                     "test_training_dropout_default", "test_training_dropout_default_mask", "test_training_dropout_mask",
                     "test_training_dropout_zero_ratio", "test_training_dropout_zero_ratio_mask",
                     "test_dropout_default_mask", "test_dropout_default_mask_ratio"] {
            known[name] = "training mode and mask outputs (inference only)"
        }
        for name in ["test_gather_0", "test_gather_1", "test_gather_2d_indices", "test_gather_negative_indices"] {
            known[name] = "Gather on run-time values (folded on constants only)"
        }
        for name in ["test_identity_opt", "test_identity_sequence"] {
            known[name] = "optional and sequence types"
        }
        return known
    }()

    struct Outcome { var op: String; var passed: Bool; var unsupported: Bool; var note: String }

    static func caseNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("test_") && !$0.hasPrefix("test_cast") && !$0.hasPrefix("test_castlike") }.sorted()
    }

    @Test func testDataIsInstalled() {
        #expect(!Self.caseNames().isEmpty, "no ONNX node tests at \(Self.directory.path): apt-get install libonnx-testdata")
    }

    @Test func supportedOperatorsPassTheNodeTests() throws {
        var outcomes: [String: [Outcome]] = [:]
        for name in Self.caseNames() {
            let dir = Self.directory.appendingPathComponent(name)
            let modelData = try Data(contentsOf: dir.appendingPathComponent("model.onnx"))
            let proto = try Onnx_ModelProto(serializedBytes: modelData)
            let ops = Set(proto.graph.node.map(\.opType))
            guard ops.isSubset(of: supportedOperators) else { continue }
            let op = proto.graph.node.map(\.opType).filter { $0 != "Constant" }.first ?? "Constant"
            let outcome = Self.run(name, dir: dir, proto: proto, modelData: modelData, op: op)
            outcomes[op, default: []].append(outcome)
            if let reason = Self.knownUnsupported[name] {
                #expect(outcome.unsupported, "\(name) was expected to be unsupported (\(reason)) but: \(outcome.note)")
            } else {
                #expect(outcome.passed, "\(name): \(outcome.note)")
            }
        }
        var lines = ["ONNX node tests by operator: passed / run (not supported)"]
        for (op, list) in outcomes.sorted(by: { $0.key < $1.key }) {
            let unsupported = list.filter(\.unsupported).count
            lines.append("  \(op): \(list.filter(\.passed).count) / \(list.count - unsupported)" + (unsupported > 0 ? " (\(unsupported))" : ""))
        }
        let all = outcomes.values.flatMap { $0 }
        lines.append("  total: \(all.filter(\.passed).count) passed of \(all.filter { !$0.unsupported }.count) run, \(all.filter(\.unsupported).count) not supported")
        print(lines.joined(separator: "\n"))
        #expect(all.filter(\.passed).count >= 150, "far fewer node tests pass than expected")
    }

    static func run(_ name: String, dir: URL, proto: Onnx_ModelProto, modelData: Data, op: String) -> Outcome {
        do {
            var options = LoadOptions()
            let initializers = Set(proto.graph.initializer.map(\.name))
            let graphInputs = proto.graph.input.map(\.name).filter { !initializers.contains($0) }
            var bound = Set<String>()
            for node in proto.graph.node {
                for index in parameterInputs[node.opType] ?? [] where index < node.input.count {
                    if let position = graphInputs.firstIndex(of: node.input[index]) { bound.insert(graphInputs[position]) }
                }
            }
            let sets = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("test_data_set_") }.sorted()
            guard let first = sets.first else { return Outcome(op: op, passed: false, unsupported: false, note: "no data sets") }
            for (position, input) in graphInputs.enumerated() where bound.contains(input) {
                try options.bind(input, serializedTensorProto: Data(contentsOf: dir.appendingPathComponent("\(first)/input_\(position).pb")))
            }
            let model: Model
            do { model = try Model(onnx: modelData, name: name, options: options) } catch {
                return Outcome(op: op, passed: false, unsupported: error.status == .unimplemented, note: "\(error)")
            }
            for set in sets {
                var feeds: [String: Tensor] = [:]
                for (position, input) in graphInputs.enumerated() where !bound.contains(input) {
                    feeds[input] = try Tensor(serializedTensorProto: Data(contentsOf: dir.appendingPathComponent("\(set)/input_\(position).pb")))
                }
                let results = try model.run(feeds)
                for (position, output) in proto.graph.output.enumerated() {
                    let expected = try Tensor(serializedTensorProto: Data(contentsOf: dir.appendingPathComponent("\(set)/output_\(position).pb")))
                    guard let actual = results[output.name] else { throw Mismatch(text: "no output \(output.name)") }
                    guard elementCount(actual.shape) == elementCount(expected.shape), actual.shape == expected.shape || expected.shape.isEmpty else {
                        throw Mismatch(text: "output shape \(actual.shape), expected \(expected.shape)")
                    }
                    for (a, e) in zip(actual.data, expected.data) where !(abs(a - e) <= 1e-7 + 1e-3 * abs(e)) && !(a.isNaN && e.isNaN) {
                        throw Mismatch(text: "\(set) output \(position): \(a) where \(e) was expected")
                    }
                }
            }
            return Outcome(op: op, passed: true, unsupported: false, note: "")
        } catch {
            return Outcome(op: op, passed: false, unsupported: false, note: "\(error)")
        }
    }

    struct Mismatch: Error { var text: String }
}

private func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
