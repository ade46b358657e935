// Graph rewrites run once at load: fold BatchNorm into convs, fuse residual adds and clamps.

extension Graph {
    /// Runs every pass in the order that keeps each one simple.
    mutating func optimize() {
        foldBatchNorms()
        fuseResidualAdds()
        fuseClamps()
    }

    /// The node that produces `value`, if it is read by nothing else (so it may be rewritten).
    private func soleProducer(of value: String, uses: [String: Int]) -> Int? {
        guard uses[value] == 1, !outputs.contains(value) else { return nil }
        return nodes.firstIndex { $0.output == value }
    }

    /// Conv → BatchNormalization becomes one conv: W' = W·s, B' = (B − mean)·s + beta with
    /// s = scale / sqrt(var + eps), per output channel.
    mutating func foldBatchNorms() {
        var uses = useCounts()
        var index = 0
        while index < nodes.count {
            defer { index += 1 }
            guard case let .batchNorm(epsilon) = nodes[index].op,
                  let convIndex = soleProducer(of: nodes[index].inputs[0], uses: uses),
                  case let .conv(window, groups, clamp) = nodes[convIndex].op, clamp.isIdentity,
                  nodes[convIndex].inputs.count == 3 else { continue }
            let bn = nodes[index], conv = nodes[convIndex]
            let (scale, shift, mean, variance) = (constants[bn.inputs[1]]!.floats, constants[bn.inputs[2]]!.floats,
                                                  constants[bn.inputs[3]]!.floats, constants[bn.inputs[4]]!.floats)
            let weights = constants[conv.inputs[1]]!
            var w = weights.floats
            var b = conv.inputs[2].isEmpty ? [Float](repeating: 0, count: scale.count) : constants[conv.inputs[2]]!.floats
            let perChannel = w.count / scale.count
            for c in 0..<scale.count {
                let s = scale[c] / (variance[c] + epsilon).squareRoot()
                for i in (c * perChannel)..<((c + 1) * perChannel) { w[i] *= s }
                b[c] = (b[c] - mean[c]) * s + shift[c]
            }
            let (wName, bName) = ("\(bn.name)/folded_weights", "\(bn.name)/folded_bias")
            constants[wName] = Constant(shape: weights.shape, values: .float(w))
            constants[bName] = Constant(shape: [scale.count], values: .float(b))
            shapes[wName] = weights.shape
            shapes[bName] = [scale.count]
            nodes[index] = Node(name: conv.name, op: .conv(window: window, groups: groups, clamp: clamp),
                                inputs: [conv.inputs[0], wName, bName], output: bn.output)
            nodes.remove(at: convIndex)
            index -= 1
            uses = useCounts()
        }
    }

    /// conv(x) + r, with r shaped like the conv's output, becomes conv(x) with a fused residual r.
    mutating func fuseResidualAdds() {
        var uses = useCounts()
        var index = 0
        while index < nodes.count {
            defer { index += 1 }
            guard case .binary(.add) = nodes[index].op else { continue }
            let add = nodes[index]
            let outShape = shapes[add.output]!
            for side in 0..<2 {
                let other = add.inputs[1 - side]
                guard shapes[other] == outShape, add.inputs[side] != other,
                      let convIndex = soleProducer(of: add.inputs[side], uses: uses),
                      case let .conv(_, _, clamp) = nodes[convIndex].op, clamp.isIdentity,
                      nodes[convIndex].inputs.count == 3 else { continue }
                var conv = nodes[convIndex]
                conv.inputs.append(other)
                conv.output = add.output
                nodes[index] = conv
                nodes.remove(at: convIndex)
                index -= 1
                uses = useCounts()
                break
            }
        }
    }

    /// conv → Relu / Clip(constant bounds) becomes a conv that clamps its output.
    mutating func fuseClamps() {
        var uses = useCounts()
        var index = 0
        while index < nodes.count {
            defer { index += 1 }
            let bounds: Clamp
            switch nodes[index].op {
            case .unary(.relu): bounds = Clamp(min: 0, max: .infinity)
            case let .unary(.clamp(low, high)): bounds = Clamp(min: low, max: high)
            default: continue
            }
            guard let convIndex = soleProducer(of: nodes[index].inputs[0], uses: uses),
                  case let .conv(window, groups, clamp) = nodes[convIndex].op, clamp.isIdentity else { continue }
            var conv = nodes[convIndex]
            conv.op = .conv(window: window, groups: groups, clamp: bounds)
            conv.output = nodes[index].output
            nodes[index] = conv
            nodes.remove(at: convIndex)
            index -= 1
            uses = useCounts()
        }
    }
}
