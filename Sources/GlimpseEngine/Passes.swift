// Graph rewrites run once at load: fold affine ops and zero Pads into convs, recognise
// decomposed activations, fuse residual adds and activations, and find squeeze-excite blocks.

extension Graph {
    /// Runs every pass in the order that keeps each one simple: decomposed activations first
    /// (before a fold takes their `+ 3` into a conv's bias), then the folds (they need a conv with
    /// a plain epilogue), then the epilogue fusions.
    mutating func optimize() {
        recognizeActivations()
        foldAffinesIntoConvs()
        composeChannelAffines()
        foldBiasesIntoMatMuls()
        foldPads()
        fuseResidualAdds()
        fuseEpilogues()
        fuseSqueezeExcites()
    }

    /// The node that produces `value`, if it is read by nothing else (so it may be rewritten).
    private func soleProducer(of value: String, uses: [String: Int]) -> Int? {
        guard uses[value] == 1, !outputs.contains(value) else { return nil }
        return nodes.firstIndex { $0.output == value }
    }

    private func producer(of value: String) -> Node? {
        nodes.first { $0.output == value }
    }

    /// The one value of a single-element constant.
    private func scalar(_ name: String) -> Float? {
        guard let c = constants[name], c.count == 1 else { return nil }
        return c.floats[0]
    }

    /// A constant that broadcasts against an [N, C, H, W] tensor as one value per channel (or
    /// one value for all): its C values.
    private func perChannel(_ name: String, channels: Int) -> [Float]? {
        guard let c = constants[name], c.shape.count <= 4 else { return nil }
        let shape = Array(repeating: 1, count: 4 - c.shape.count) + c.shape
        guard shape[0] == 1, shape[2] == 1, shape[3] == 1, shape[1] == channels || shape[1] == 1 else { return nil }
        let values = c.floats
        return shape[1] == 1 ? Array(repeating: values[0], count: channels) : values
    }

    /// Offers every node, in order, to `rewrite`, which leaves the graph alone (nil) or rewrites
    /// around that node and returns the index to look at next; use counts are recounted after
    /// each rewrite. One loop for every pass, so none keeps its own index bookkeeping.
    private mutating func rewriteEach(_ rewrite: (inout Graph, Int, [String: Int]) -> Int?) {
        var uses = useCounts()
        var index = 0
        while index < nodes.count {
            if let next = rewrite(&self, index, uses) {
                index = next
                uses = useCounts()
            } else {
                index += 1
            }
        }
    }

    /// Removes the nodes at `indices` (which must not include `keep`) and returns where `keep` is now.
    private mutating func remove(_ indices: [Int], keeping keep: Int) -> Int {
        var keep = keep
        for i in indices.sorted(by: >) {
            nodes.remove(at: i)
            if i < keep { keep -= 1 }
        }
        return keep
    }

    // MARK: folds into convs

    /// `node` as y = x·scale[c] + shift[c] over the channels of a 4-D x, if it is one:
    /// BatchNormalization, or Mul/Add/Sub/Div with a per-channel constant (tf2onnx writes a
    /// BatchNorm it cannot fuse as Mul then Add).
    private func channelAffine(_ node: Node) -> (input: String, scale: [Float], shift: [Float])? {
        switch node.op {
        case .channelAffine:
            return (node.inputs[0], constants[node.inputs[1]]!.floats, constants[node.inputs[2]]!.floats)
        case let .batchNorm(epsilon):
            guard shapes[node.inputs[0]]?.count == 4 else { return nil }
            let (gamma, beta, mean, variance) = (constants[node.inputs[1]]!.floats, constants[node.inputs[2]]!.floats,
                                                 constants[node.inputs[3]]!.floats, constants[node.inputs[4]]!.floats)
            let scale = gamma.indices.map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
            return (node.inputs[0], scale, beta.indices.map { beta[$0] - mean[$0] * scale[$0] })
        case let .binary(op):
            for side in 0..<2 {
                let x = node.inputs[side], c = node.inputs[1 - side]
                guard constants[x] == nil, let shape = shapes[x], shape.count == 4, shapes[node.output] == shape,
                      let values = perChannel(c, channels: shape[1]) else { continue }
                let ones = [Float](repeating: 1, count: values.count), zeros = [Float](repeating: 0, count: values.count)
                switch (op, side) {
                case (.mul, _): return (x, values, zeros)
                case (.add, _): return (x, ones, values)
                case (.sub, 0): return (x, ones, values.map { -$0 })
                case (.sub, _): return (x, ones.map { -$0 }, values)
                case (.div, 0): return (x, values.map { 1 / $0 }, zeros)
                case (.div, _): return nil
                }
            }
            return nil
        default:
            return nil
        }
    }

    /// conv → y = x·s + t per channel becomes one conv: W' = W·s, B' = B·s + t per output channel.
    mutating func foldAffinesIntoConvs() {
        rewriteEach { graph, index, uses in graph.foldAffinesIntoConvs(at: index, uses: uses) }
    }

    private mutating func foldAffinesIntoConvs(at index: Int, uses: [String: Int]) -> Int? {
        guard let (input, scale, shift) = channelAffine(nodes[index]),
              let convIndex = soleProducer(of: input, uses: uses),
              case let .conv(window, groups, epilogue) = nodes[convIndex].op, epilogue.isIdentity,
              nodes[convIndex].inputs.count == 3 else { return nil }
        let affine = nodes[index], conv = nodes[convIndex]
        let weights = constants[conv.inputs[1]]!
        var w = weights.floats
        var b = conv.inputs[2].isEmpty ? [Float](repeating: 0, count: scale.count) : constants[conv.inputs[2]]!.floats
        let perChannel = w.count / scale.count
        for c in 0..<scale.count {
            for i in (c * perChannel)..<((c + 1) * perChannel) { w[i] *= scale[c] }
            b[c] = b[c] * scale[c] + shift[c]
        }
        let (wName, bName) = ("\(affine.name)/folded_weights", "\(affine.name)/folded_bias")
        constants[wName] = Constant(shape: weights.shape, values: .float(w))
        constants[bName] = Constant(shape: [scale.count], values: .float(b))
        shapes[wName] = weights.shape
        shapes[bName] = [scale.count]
        nodes[index] = Node(name: conv.name, op: .conv(window: window, groups: groups, epilogue: epilogue),
                            inputs: [conv.inputs[0], wName, bName], output: affine.output)
        return remove([convIndex], keeping: index) + 1
    }

    /// Consecutive per-channel affine ops that no conv took (a model's input normalisation, written
    /// as Mul, Sub, Div, ...) become one: x·s1 + t1, then ·s2 + t2, is x·(s1·s2) + (t1·s2 + t2).
    mutating func composeChannelAffines() {
        rewriteEach { graph, index, uses in graph.composeChannelAffines(at: index, uses: uses) }
    }

    private mutating func composeChannelAffines(at index: Int, uses: [String: Int]) -> Int? {
        guard let (input, s2, t2) = channelAffine(nodes[index]),
              let firstIndex = soleProducer(of: input, uses: uses),
              let (x, s1, t1) = channelAffine(nodes[firstIndex]), s1.count == s2.count else { return nil }
        let node = nodes[index]
        let scale = s1.indices.map { s1[$0] * s2[$0] }, shift = s1.indices.map { t1[$0] * s2[$0] + t2[$0] }
        let (sName, tName) = ("\(node.name)/composed_scale", "\(node.name)/composed_shift")
        constants[sName] = Constant(shape: [scale.count], values: .float(scale))
        constants[tName] = Constant(shape: [shift.count], values: .float(shift))
        (shapes[sName], shapes[tName]) = ([scale.count], [shift.count])
        nodes[index] = Node(name: node.name, op: .channelAffine, inputs: [x, sName, tName], output: node.output)
        return remove([firstIndex], keeping: index) + 1
    }

    /// MatMul(x, W) + b, x 2-D and W, b constants, becomes Gemm(x, W, b): Keras classifiers as
    /// tf2onnx writes them, so the bias is added in the dense layer's epilogue.
    mutating func foldBiasesIntoMatMuls() {
        rewriteEach { graph, index, uses in graph.foldBiasesIntoMatMuls(at: index, uses: uses) }
    }

    private mutating func foldBiasesIntoMatMuls(at index: Int, uses: [String: Int]) -> Int? {
        guard case .binary(.add) = nodes[index].op else { return nil }
        let add = nodes[index]
        for side in 0..<2 {
            guard let productIndex = soleProducer(of: add.inputs[side], uses: uses),
                  case .matMul = nodes[productIndex].op,
                  let x = shapes[nodes[productIndex].inputs[0]], x.count == 2,
                  let w = constants[nodes[productIndex].inputs[1]], w.shape.count == 2,
                  let bias = constants[add.inputs[1 - side]], bias.count == w.shape[1],
                  shapes[add.output] == [x[0], w.shape[1]] else { continue }
            let product = nodes[productIndex]
            nodes[index] = Node(name: product.name, op: .gemm(alpha: 1, beta: 1, transA: false, transB: false, epilogue: .identity),
                                inputs: [product.inputs[0], product.inputs[1], add.inputs[1 - side]], output: add.output)
            return remove([productIndex], keeping: index) + 1
        }
        return nil
    }

    /// True when every element of `value` is known to be >= 0 (after Relu, a clamp from 0, a
    /// sigmoid; through max pooling), so a zero pad before a MaxPool acts like ONNX's −inf pads.
    private func isNonNegative(_ value: String, depth: Int = 0) -> Bool {
        guard depth < 8, let node = producer(of: value) else { return false }
        func nonNegative(_ e: Epilogue) -> Bool {
            switch e.activation {
            case .sigmoid, .hardSigmoid: true
            default: e.min >= 0
            }
        }
        switch node.op {
        case let .unary(e), let .conv(_, _, e): return nonNegative(e)
        case .pool(.max, _), .globalAveragePool, .reshape: return isNonNegative(node.inputs[0], depth: depth + 1)
        default: return false
        }
    }

    /// A constant Pad of the two spatial axes of a 4-D tensor becomes the padding of the Conv or
    /// pool that alone reads it: a zero pad for Conv and AveragePool (counted in the mean, as the
    /// explicit zeros were), and for MaxPool a −inf pad, or a zero pad of a tensor known to be >= 0.
    mutating func foldPads() {
        rewriteEach { graph, index, uses in graph.foldPads(at: index, uses: uses) }
    }

    private mutating func foldPads(at index: Int, uses: [String: Int]) -> Int? {
        guard case let .pad(.constant, pads, fill) = nodes[index].op, pads.count == 8,
              pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0, pads.allSatisfy({ $0 >= 0 }),
              uses[nodes[index].output] == 1, !outputs.contains(nodes[index].output),
              let readerIndex = nodes.firstIndex(where: { $0.inputs.first == nodes[index].output }) else { return nil }
        let pad = nodes[index]
        var reader = nodes[readerIndex]
        let (top, left, bottom, right) = (pads[2], pads[3], pads[6], pads[7])
        func padded(_ window: Window) -> Window {
            var w = window
            (w.padTop, w.padLeft, w.padBottom, w.padRight) = (w.padTop + top, w.padLeft + left, w.padBottom + bottom, w.padRight + right)
            return w
        }
        switch reader.op {
        case let .conv(window, groups, epilogue) where fill == 0:
            reader.op = .conv(window: padded(window), groups: groups, epilogue: epilogue)
        case let .pool(.average(countIncludePad), window) where fill == 0 && !window.ceilMode
            && (countIncludePad || (window.padTop, window.padLeft, window.padBottom, window.padRight) == (0, 0, 0, 0)):
            reader.op = .pool(.average(countIncludePad: true), padded(window))
        case let .pool(.max, window) where !window.ceilMode
            && (fill == -.infinity || (fill == 0 && isNonNegative(pad.inputs[0]))):
            // Every window must keep at least one real element, or the two would differ.
            let w = padded(window)
            guard max(w.padTop, w.padBottom) < w.kernel.h, max(w.padLeft, w.padRight) < w.kernel.w else { return nil }
            reader.op = .pool(.max, w)
        default:
            return nil
        }
        reader.inputs[0] = pad.inputs[0]
        nodes[readerIndex] = reader
        nodes.remove(at: index)
        return index // the node after the Pad now stands here
    }

    // MARK: activations

    /// Exporters write some activations as small graphs; each becomes the one op it computes:
    /// - Sigmoid(x)·x → SiLU (Swish), as PyTorch and tf2onnx write EfficientNet's;
    /// - Clip(x + b, 0, m)·k with k·m = 1 (·k or /m) → HardSigmoid(k, k·b): Keras' and older
    ///   PyTorch's hard sigmoid, Relu6(x + 3) / 6;
    /// - HardSigmoid(x)·x → HardSwish, and x·Clip(x + b, 0, m)·k with k·m = 1 likewise:
    ///   older PyTorch exports' x · relu6(x + 3) / 6.
    mutating func recognizeActivations() {
        rewriteEach { graph, index, uses in graph.recognizeActivations(at: index, uses: uses) }
    }

    private mutating func recognizeActivations(at index: Int, uses: [String: Int]) -> Int? {
        guard let (input, epilogue, consumed) = decomposedActivation(at: index, uses: uses) else { return nil }
        nodes[index] = Node(name: nodes[index].name, op: .unary(epilogue), inputs: [input], output: nodes[index].output)
        return remove(consumed, keeping: index) + 1
    }

    /// The activation that node `index` ends, with its input and the nodes it replaces.
    private func decomposedActivation(at index: Int, uses: [String: Int]) -> (String, Epilogue, [Int])? {
        let node = nodes[index]
        guard case let .binary(op) = node.op, op == .mul || op == .div else { return nil }
        // The factor k of ·k or /m, and the other operand.
        var candidates: [(operand: String, factor: Float)] = []
        if op == .div, let m = scalar(node.inputs[1]) { candidates.append((node.inputs[0], 1 / m)) }
        if op == .mul {
            for side in 0..<2 { if let k = scalar(node.inputs[1 - side]) { candidates.append((node.inputs[side], k)) } }
        }
        for (operand, k) in candidates {
            guard let inner = soleProducer(of: operand, uses: uses) else { continue }
            // Clip(x + b, 0, m)·k → HardSigmoid.
            if let (x, b, m, chain) = shiftedRelu6(at: inner, uses: uses), Self.isOne(k * m) {
                return (x, Epilogue(activation: .hardSigmoid(alpha: k, beta: k * b)), chain)
            }
            // (x · Clip(x + b, 0, m))·k → HardSwish.
            if case .binary(.mul) = nodes[inner].op {
                let product = nodes[inner]
                for side in 0..<2 {
                    guard let clip = soleProducer(of: product.inputs[1 - side], uses: uses),
                          let (x, b, m, chain) = shiftedRelu6(at: clip, uses: uses),
                          x == product.inputs[side], Self.isOne(k * m) else { continue }
                    return (x, Epilogue(activation: .hardSwish(alpha: k, beta: k * b)), chain + [inner])
                }
            }
        }
        // x · Sigmoid(x) → SiLU, x · HardSigmoid(x) → HardSwish.
        guard op == .mul else { return nil }
        for side in 0..<2 {
            let x = node.inputs[side]
            guard let gateIndex = soleProducer(of: node.inputs[1 - side], uses: uses),
                  case let .unary(gate) = nodes[gateIndex].op, nodes[gateIndex].inputs[0] == x,
                  gate.min == -.infinity, gate.max == .infinity else { continue }
            switch gate.activation {
            case .sigmoid: return (x, Epilogue(activation: .silu), [gateIndex])
            case let .hardSigmoid(alpha, beta): return (x, Epilogue(activation: .hardSwish(alpha: alpha, beta: beta)), [gateIndex])
            default: continue
            }
        }
        return nil
    }

    /// Node `index` as Clip(x + b, 0, m) with a scalar b, the add read by the clip alone:
    /// (x, b, m, the clip's and the add's indices).
    private func shiftedRelu6(at index: Int, uses: [String: Int]) -> (String, Float, Float, [Int])? {
        guard case let .unary(clip) = nodes[index].op, clip.activation == .identity, clip.min == 0,
              clip.max.isFinite, clip.max > 0,
              let addIndex = soleProducer(of: nodes[index].inputs[0], uses: uses),
              case .binary(.add) = nodes[addIndex].op else { return nil }
        let add = nodes[addIndex]
        for side in 0..<2 {
            if let b = scalar(add.inputs[1 - side]), constants[add.inputs[side]] == nil,
               shapes[add.inputs[side]] == shapes[add.output] {
                return (add.inputs[side], b, clip.max, [index, addIndex])
            }
        }
        return nil
    }

    /// k·m == 1 up to float rounding (1/6 is not exact).
    private static func isOne(_ v: Float) -> Bool { abs(v - 1) <= 1e-6 }

    // MARK: epilogue fusion

    /// conv(x) + r, with r shaped like the conv's output, becomes conv(x) with a fused residual r.
    mutating func fuseResidualAdds() {
        rewriteEach { graph, index, uses in graph.fuseResidualAdds(at: index, uses: uses) }
    }

    private mutating func fuseResidualAdds(at index: Int, uses: [String: Int]) -> Int? {
        guard case .binary(.add) = nodes[index].op else { return nil }
        let add = nodes[index]
        let outShape = shapes[add.output]!
        for side in 0..<2 {
            let other = add.inputs[1 - side]
            guard shapes[other] == outShape, add.inputs[side] != other,
                  let convIndex = soleProducer(of: add.inputs[side], uses: uses),
                  case let .conv(_, _, epilogue) = nodes[convIndex].op, epilogue.isIdentity,
                  nodes[convIndex].inputs.count == 3 else { continue }
            var conv = nodes[convIndex]
            conv.inputs.append(other)
            conv.output = add.output
            nodes[index] = conv
            return remove([convIndex], keeping: index) + 1
        }
        return nil
    }

    /// conv (or Gemm) → Relu / Clip / Sigmoid / HardSwish / ... becomes a conv whose epilogue computes it
    /// (a clamp may follow an activation in the same epilogue).
    mutating func fuseEpilogues() {
        rewriteEach { graph, index, uses in graph.fuseEpilogues(at: index, uses: uses) }
    }

    private mutating func fuseEpilogues(at index: Int, uses: [String: Int]) -> Int? {
        guard case let .unary(next) = nodes[index].op,
              let convIndex = soleProducer(of: nodes[index].inputs[0], uses: uses) else { return nil }
        var conv = nodes[convIndex]
        switch conv.op {
        case let .conv(window, groups, epilogue):
            guard let combined = epilogue.then(next) else { return nil }
            conv.op = .conv(window: window, groups: groups, epilogue: combined)
        case let .gemm(alpha, beta, transA, transB, epilogue):
            guard let combined = epilogue.then(next) else { return nil }
            conv.op = .gemm(alpha: alpha, beta: beta, transA: transA, transB: transB, epilogue: combined)
        default:
            return nil
        }
        conv.output = nodes[index].output
        nodes[index] = conv
        return remove([convIndex], keeping: index) + 1
    }

    // MARK: squeeze-excite

    /// x · expand(reduce(GlobalAveragePool(x))), the two 1×1 convs read by nothing else, becomes
    /// one squeeze-excite node (one step that never stores the pooled or reduced vectors in the arena).
    mutating func fuseSqueezeExcites() {
        rewriteEach { graph, index, uses in graph.fuseSqueezeExcites(at: index, uses: uses) }
    }

    private mutating func fuseSqueezeExcites(at index: Int, uses: [String: Int]) -> Int? {
        guard case .binary(.mul) = nodes[index].op else { return nil }
        let mul = nodes[index]
        for side in 0..<2 {
            let x = mul.inputs[side]
            guard let shape = shapes[x], shape.count == 4, shapes[mul.output] == shape,
                  let expandIndex = soleProducer(of: mul.inputs[1 - side], uses: uses),
                  let expand = pointwise(nodes[expandIndex]),
                  let reduceIndex = soleProducer(of: nodes[expandIndex].inputs[0], uses: uses),
                  let reduce = pointwise(nodes[reduceIndex]),
                  let poolIndex = soleProducer(of: nodes[reduceIndex].inputs[0], uses: uses),
                  case .globalAveragePool = nodes[poolIndex].op, nodes[poolIndex].inputs[0] == x,
                  shapes[nodes[expandIndex].output] == [shape[0], shape[1], 1, 1] else { continue }
            let (r, e) = (nodes[reduceIndex], nodes[expandIndex])
            nodes[index] = Node(name: mul.name, op: .squeezeExcite(reduce: reduce, expand: expand),
                                inputs: [x, r.inputs[1], r.inputs[2], e.inputs[1], e.inputs[2]], output: mul.output)
            return remove([poolIndex, reduceIndex, expandIndex], keeping: index) + 1
        }
        return nil
    }

    /// A 1×1, stride 1, unpadded, ungrouped conv with no residual: its epilogue.
    private func pointwise(_ node: Node) -> Epilogue? {
        guard case let .conv(window, groups, epilogue) = node.op, groups == 1, node.inputs.count == 3,
              window.kernel == (1, 1), window.stride == (1, 1),
              (window.padTop, window.padLeft, window.padBottom, window.padRight) == (0, 0, 0, 0) else { return nil }
        return epilogue
    }
}
