// Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout: one engine op, the same bytes with a new shape.

extension NodeImport {
    /// Reshape to a constant target (0 copies, -1 infers).
    mutating func reshape() throws(EngineError) {
        try need(2)
        let allowZero = attributes.int("allowzero", default: 0) != 0
        try attributes.finish()
        let target = try constantInts(inputs[1], of: name, as: "the target shape")
        try reshapeNode(name, input: inputs[0], output: output, to: try reshaped(shapes[0], target, allowZero: allowZero, node: name))
    }

    /// Flatten to 2-D at an axis.
    mutating func flatten() throws(EngineError) {
        try need(1)
        let rank = shapes[0].count
        var axis = attributes.int("axis", default: 1)
        if axis < 0 { axis += rank }
        guard (0...rank).contains(axis) else { throw .invalidModel("node '\(name)': Flatten axis out of range") }
        try attributes.finish()
        try reshapeNode(name, input: inputs[0], output: output,
                        to: [elementCount(Array(shapes[0][..<axis])), elementCount(Array(shapes[0][axis...]))])
    }

    /// Squeeze and Unsqueeze, axes as an attribute (before opset 13) or a constant input.
    mutating func squeezeOrUnsqueeze() throws(EngineError) {
        try need(1)
        var axes = attributes.ints("axes")
        if opset >= 13, !input(1).isEmpty { axes = try constantInts(inputs[1], of: name, as: "the axes") }
        try attributes.finish()
        var outShape = shapes[0]
        if op == "Squeeze" {
            let rank = outShape.count
            let drop = try Set((axes ?? (0..<rank).filter { outShape[$0] == 1 }).map { a throws(EngineError) in
                try self.axis(a, rank: rank, node: name)
            })
            guard drop.allSatisfy({ outShape[$0] == 1 }) else {
                throw .invalidModel("node '\(name)': cannot squeeze a dimension that is not 1")
            }
            outShape = outShape.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        } else {
            guard let axes else { throw .invalidModel("node '\(name)': Unsqueeze needs axes") }
            let rank = outShape.count + axes.count
            for a in try axes.map({ a throws(EngineError) in try self.axis(a, rank: rank, node: name) }).sorted() {
                outShape.insert(1, at: a)
            }
        }
        try reshapeNode(name, input: inputs[0], output: output, to: outShape)
    }

    /// Identity, and Dropout in inference mode.
    mutating func identity() throws(EngineError) {
        try need(1)
        attributes.ignore("ratio", "seed", "is_test")
        try attributes.finish()
        if op == "Dropout", !input(2).isEmpty, (graph.constants[inputs[2]]?.floats.first ?? 1) != 0 {
            throw .unsupportedFeature(node: name, what: "Dropout in training mode")
        }
        try reshapeNode(name, input: inputs[0], output: output, to: shapes[0])
    }

    mutating func reshapeNode(_ name: String, input: String, output: String, to shape: [Int]) throws(EngineError) {
        if var value = graph.constants[input] {
            value.shape = shape
            defineConstant(output, value)
        } else {
            define(output, shape: shape, node: Node(name: name, op: .reshape, inputs: [input], output: output))
        }
    }

    func reshaped(_ input: [Int], _ target: [Int], allowZero: Bool, node: String) throws(EngineError) -> [Int] {
        var shape = target.enumerated().map { (i, d) in d == 0 && !allowZero && i < input.count ? input[i] : d }
        let count = elementCount(input)
        if let infer = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != infer }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw .invalidModel("node '\(node)': cannot reshape \(input) to \(target)")
            }
            shape[infer] = count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), elementCount(shape) == count else {
            throw .invalidModel("node '\(node)': cannot reshape \(input) to \(target)")
        }
        return shape
    }
}

extension Lowering {
    /// An alias of its input: no step, no copy.
    mutating func lowerReshape(_ node: Node) throws(EngineError) {
        let outShape = graph.shape(node.output)
        // Identity and Dropout keep the shape, so they keep whatever layout the input is in
        // (a Dropout between two convs must not cost two transposes); a real reshape is plain.
        let layout = graph.shape(node.inputs[0]) == outShape ? currentLayout(node.inputs[0]) ?? .plain : .plain
        define(node.output, layout, aliasing: try operand(node.inputs[0], layout))
    }
}
