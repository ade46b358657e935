// Pad: import (opset 2-18 forms, modes), reference (its index map, also used per request), lowering, step.

extension NodeImport {
    /// Pad in constant, reflect, edge or wrap mode; the passes fold zero pads into a conv or pool.
    mutating func pad() throws(EngineError) {
        try need(1)
        let rank = shapes[0].count
        let modeName = attributes.string("mode") ?? "constant"
        guard let mode = PadMode(rawValue: modeName) else {
            throw .unsupportedFeature(node: name, what: "Pad mode '\(modeName)'")
        }
        var pads: [Int], fill: Float
        if opset < 11 {
            guard let given = attributes.ints("pads") else { throw .invalidModel("node '\(name)': Pad needs pads") }
            pads = given
            fill = attributes.float("value", default: 0)
        } else {
            try need(2)
            pads = try constantInts(inputs[1], of: name, as: "the pads")
            fill = 0
            if !input(2).isEmpty {
                let given = try constant(inputs[2], of: name, as: "the constant value")
                guard given.count == 1 else { throw .invalidModel("node '\(name)': Pad's constant value must be one value") }
                fill = given.floats[0]
            }
            if !input(3).isEmpty {
                // opset 18: pads for the listed axes only; the others get none.
                let axes = try constantInts(inputs[3], of: name, as: "the axes").map { a throws(EngineError) in
                    try self.axis(a, rank: rank, node: name)
                }
                guard pads.count == 2 * axes.count, Set(axes).count == axes.count else {
                    throw .invalidModel("node '\(name)': \(pads.count) pads for axes \(axes)")
                }
                var full = [Int](repeating: 0, count: 2 * rank)
                for (i, a) in axes.enumerated() { (full[a], full[rank + a]) = (pads[i], pads[axes.count + i]) }
                pads = full
            }
        }
        try attributes.finish()
        guard pads.count == 2 * rank else {
            throw .invalidModel("node '\(name)': \(pads.count) pads for a rank-\(rank) input (need \(2 * rank))")
        }
        let outShape = (0..<rank).map { shapes[0][$0] + pads[$0] + pads[rank + $0] }
        guard outShape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidModel("node '\(name)': pads \(pads) crop \(shapes[0]) below nothing")
        }
        if mode != .constant {
            // reflect needs pads below the size, edge and wrap a non-empty axis to copy from.
            for axis in 0..<rank where pads[axis] > 0 || pads[rank + axis] > 0 {
                let size = shapes[0][axis], most = Swift.max(pads[axis], pads[rank + axis])
                guard size > 0, mode != .reflect || most < size, mode != .wrap || most <= size else {
                    throw .invalidModel("node '\(name)': \(mode.rawValue) pads of \(most) on an axis of \(size)")
                }
            }
        }
        if let value = graph.constants[inputs[0]], case .float = value.values {
            defineConstant(output, Reference.pad(value, mode: mode, pads: pads, fill: fill))
        } else {
            define(output, shape: outShape, node: Node(name: name, op: .pad(mode: mode, pads: pads, value: fill),
                                                       inputs: [inputs[0]], output: output))
        }
    }
}

extension Reference {
    static func pad(_ x: Constant, mode: PadMode, pads: [Int], fill: Float) -> Constant {
        let map = PadMap(inputShape: x.shape, pads: pads, mode: mode)
        var out = [Float](repeating: 0, count: elementCount(map.outputShape))
        x.floats.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { map.apply(source.baseAddress!, $0.baseAddress!, fill: fill) }
        }
        return Constant(shape: map.outputShape, values: .float(out))
    }
}

/// Pad's index arithmetic, worked out once: for each axis and output position, the input index
/// it copies (reflect, edge and wrap fold out-of-range indices back in), or -1 for the fill value.
struct PadMap: Sendable {
    let inputShape: [Int], outputShape: [Int]
    let sources: [[Int]]
    private let inputStrides: [Int]

    init(inputShape: [Int], pads: [Int], mode: PadMode) {
        let rank = inputShape.count
        self.inputShape = inputShape
        inputStrides = Reference.strides(inputShape)
        outputShape = (0..<rank).map { inputShape[$0] + pads[$0] + pads[rank + $0] }
        sources = (0..<rank).map { [outputShape] axis in
            let n = inputShape[axis]
            return (0..<outputShape[axis]).map { o in
                let i = o - pads[axis]
                if (0..<n).contains(i) { return i }
                switch mode {
                case .constant: return -1
                case .edge: return i < 0 ? 0 : n - 1
                case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
                case .wrap: return (i % n + n) % n
                }
            }
        }
    }

    /// Writes the padded tensor: row by row of the innermost axis; a row whose outer indices
    /// fall in the padding is all fill. Allocates nothing (it runs per request).
    func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, fill: Float) {
        let rank = outputShape.count
        guard rank > 0 else { y.pointee = x.pointee; return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
            index.initialize(repeating: 0)
            rows(x, y, fill: fill, index: index)
        }
    }

    private func rows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, fill: Float, index: UnsafeMutableBufferPointer<Int>) {
        let rank = outputShape.count, inStrides = inputStrides
        let n = outputShape[rank - 1], inner = sources[rank - 1]
        let rows = n == 0 ? 0 : elementCount(outputShape) / n
        for row in 0..<rows {
            let out = y + row * n
            var offset = 0, inside = true
            for axis in 0..<(rank - 1) {
                let s = sources[axis][index[axis]]
                if s < 0 { inside = false; break }
                offset += s * inStrides[axis]
            }
            if inside {
                for j in 0..<n { out[j] = inner[j] < 0 ? fill : x[offset + inner[j]] }
            } else {
                out.update(repeating: fill, count: n)
            }
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outputShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

extension Lowering {
    /// A Pad step in the input's layout, with the pads reordered to match.
    mutating func lowerPad(_ node: Node, mode: PadMode, pads: [Int], fill: Float) throws(EngineError) {
        // In NHWC when the input is (a 4-D pad between convs), with the pads in that order.
        let shape = graph.shape(node.inputs[0])
        let nhwc = shape.count == 4 && currentLayout(node.inputs[0]) == .nhwc
        let order = nhwc ? [0, 2, 3, 1] : Array(shape.indices)
        let map = PadMap(inputShape: order.map { shape[$0] }, pads: (order + order.map { $0 + shape.count }).map { pads[$0] }, mode: mode)
        let x = try ref(node.inputs[0], nhwc ? .nhwc : .plain)
        emit([x], output: define(node.output, nhwc ? .nhwc : .plain)) { ops, out in
            PadStep(map: map, fill: fill, input: ops[0], output: out)
        }
    }
}

/// A Pad that no conv or pool could take as its own padding (reflect, edge, a non-zero value).
final class PadStep: Step, @unchecked Sendable {
    var kind: String { "Pad" }
    let map: PadMap, fill: Float, input: Operand, output: Int

    init(map: PadMap, fill: Float, input: Operand, output: Int) {
        (self.map, self.fill, self.input, self.output) = (map, fill, input, output)
    }

    func run(_ context: RunContext) { map.apply(input.pointer(context.arena), context.arena + output, fill: fill) }
}
