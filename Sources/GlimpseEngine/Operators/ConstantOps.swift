// Constant, Shape, Gather and Cast: accepted only where they fold to constants at load (shape arithmetic).

extension NodeImport {
    /// Constant, from any of its value attributes.
    mutating func constant() throws(EngineError) {
        let value: Constant
        if let tensor = attributes.tensor("value") {
            value = try Constant(proto: tensor, what: name)
        } else if let f = attributes.pending.removeValue(forKey: "value_float") {
            value = Constant(shape: [], values: .float([f.f]))
        } else if let fs = attributes.pending.removeValue(forKey: "value_floats") {
            value = Constant(shape: [fs.floats.count], values: .float(fs.floats))
        } else if let i = attributes.pending.removeValue(forKey: "value_int") {
            value = Constant(shape: [], values: .int64([i.i]))
        } else if let ints = attributes.pending.removeValue(forKey: "value_ints") {
            value = Constant(shape: [ints.ints.count], values: .int64(ints.ints))
        } else {
            throw .unsupportedFeature(node: name, what: "this kind of Constant")
        }
        try attributes.finish()
        defineConstant(output, value)
    }

    /// Shape (with opset 15's start and end): static shapes make it a constant.
    mutating func shapeOf() throws(EngineError) {
        try need(1)
        var start = attributes.int("start", default: 0), end = attributes.int("end", default: shapes[0].count)
        try attributes.finish()
        let rank = shapes[0].count
        if start < 0 { start += rank }
        if end < 0 { end += rank }
        let dims = shapes[0][max(0, min(start, rank))..<max(0, min(end, rank))]
        defineConstant(output, Constant(shape: [dims.count], values: .int64(dims.map { Int64($0) })))
    }

    /// Gather and Cast of constants (they reach the engine only as shape arithmetic).
    mutating func gatherOrCast() throws(EngineError) {
        guard allConstant else {
            throw .unsupportedFeature(node: name, what: "\(op) on values computed at run time")
        }
        if op == "Cast" {
            let to = attributes.int("to", default: 1)
            attributes.ignore("saturate")
            try attributes.finish()
            let source = graph.constants[inputs[0]]!
            switch Onnx_TensorProto.DataType(rawValue: to) {
            case .float, .double: defineConstant(output, Constant(shape: source.shape, values: .float(source.floats)))
            case .int64, .int32: defineConstant(output, Constant(shape: source.shape, values: .int64(source.floats.map { Int64($0) })))
            default: throw .unsupportedFeature(node: name, what: "Cast to type \(to)")
            }
        } else {
            try need(2)
            let data = graph.constants[inputs[0]]!
            let axis = try self.axis(attributes.int("axis", default: 0), rank: data.shape.count, node: name)
            try attributes.finish()
            guard let indices = graph.constants[inputs[1]]!.ints else {
                throw .invalidModel("node '\(name)': Gather indices must be integers")
            }
            defineConstant(output, try Reference.gather(data, indices: indices, indexShape: shapes[1], axis: axis, node: name))
        }
    }
}

extension Reference {
    static func gather(_ data: Constant, indices: [Int], indexShape: [Int], axis: Int, node: String) throws(EngineError) -> Constant {
        let outer = elementCount(Array(data.shape[..<axis]))
        let inner = elementCount(Array(data.shape[(axis + 1)...]))
        let size = data.shape[axis]
        var order: [Int] = []
        for o in 0..<outer {
            for var index in indices {
                if index < 0 { index += size }
                guard (0..<size).contains(index) else {
                    throw .invalidModel("node '\(node)': Gather index \(index) out of range 0..<\(size)")
                }
                order.append(contentsOf: ((o * size + index) * inner)..<((o * size + index + 1) * inner))
            }
        }
        let shape = Array(data.shape[..<axis]) + indexShape + Array(data.shape[(axis + 1)...])
        switch data.values {
        case let .float(v): return Constant(shape: shape, values: .float(order.map { v[$0] }))
        case let .int64(v): return Constant(shape: shape, values: .int64(order.map { v[$0] }))
        }
    }
}
