// Graph → program: chooses layouts and kernels, packs weights, and plans the arena once.
import CKernels

/// How a runtime value is laid out in memory. Convolutions and pools work on NHWC;
/// everything else sees ONNX's row-major order ("plain", NCHW for images).
enum Layout: Hashable { case plain, nhwc }

/// The compiled form of a model: run by any number of sessions, each with its own arena.
struct Program: Sendable {
    var steps: [any Step]
    var arenaSize: Int
    /// What the intermediate tensors would take with no reuse (floats), for comparison.
    var unsharedSize: Int
    var inputs: [(name: String, shape: [Int], offset: Int)]
    var outputs: [(name: String, shape: [Int], offset: Int)]
    var storage: ConstantStorage
    /// Which conv kernel each conv node runs, for profiles and tests.
    var convKernels: [(node: String, kernel: String)]
    /// Per step, the weights its thread prefetches while it runs (Session.run): the next step's,
    /// at most a pointwise GEMM's first pass (about 384 KB), which is what that step reads first.
    /// All nil when LoadOptions.prefetchNextWeights is off.
    var prefetch: [WeightSpan?]

    /// Bytes of a model's constant storage (which lives as long as the program).
    struct WeightSpan: @unchecked Sendable {
        var start: UnsafeRawPointer
        var bytes: Int
    }

    static func prefetchPlan(_ steps: [any Step]) -> [WeightSpan?] {
        steps.indices.map { index in
            guard index + 1 < steps.count, let w = steps[index + 1].weights, let start = w.baseAddress else { return nil }
            return WeightSpan(start: start, bytes: min(w.count, Int(GL_POINTWISE_PASS_FLOATS) * MemoryLayout<Float>.size))
        }
    }
}

struct Lowering {
    private struct Buffer { var size: Int; var alias: Int? }
    private struct Pending {
        var inputs: [Int]
        var output: Int
        var build: (_ offset: (Int) -> Int) -> any Step
        /// What a convolution step is made of, for fusing it with its neighbour.
        var conv: Conv? = nil
    }

    private struct Conv {
        var kernel: UnsafePointer<gl_conv2d_kernel>
        var params: gl_conv2d_params
        var packed: UnsafePointer<Float>
        var input: Ref, residual: Ref?
        var batch: Int
    }

    private let graph: Graph
    private let kernels: UnsafePointer<gl_kernels>
    private let options: LoadOptions
    private let storage = ConstantStorage()
    private var buffers: [Buffer] = []
    private var pending: [Pending] = []
    /// Runtime values by name and layout; a value may exist in both layouts.
    private var placed: [String: [Layout: Int]] = [:]
    /// The layout each runtime value was produced in.
    private var produced: [String: Layout] = [:]
    private var storedConstants: [String: UnsafePointer<Float>] = [:]
    private var convKernels: [(node: String, kernel: String)] = []

    static func program(for graph: Graph, kernels: UnsafePointer<gl_kernels>, options: LoadOptions = LoadOptions()) throws(EngineError) -> Program {
        var lowering = Lowering(graph: graph, kernels: kernels, options: options)
        return try lowering.run()
    }

    private init(graph: Graph, kernels: UnsafePointer<gl_kernels>, options: LoadOptions) {
        self.graph = graph
        self.kernels = kernels
        self.options = options
    }

    private mutating func run() throws(EngineError) -> Program {
        let inputBuffers = graph.inputs.map { name in define(name, .plain) }
        for node in graph.nodes { try lower(node) }
        var outputBuffers: [Int] = []
        for name in graph.outputs {
            if let constant = graph.constants[name] {
                // A folded output still needs a home in the arena: copy it there each run.
                let id = newBuffer(constant.count)
                let source = store(name)
                pending.append(Pending(inputs: [], output: id) { offset in
                    CopyStep(source: source, count: constant.count, output: offset(id))
                })
                outputBuffers.append(id)
            } else {
                outputBuffers.append(try operand(name, .plain))
            }
        }
        if options.fuseExpandDepthwise { fuseExpandDepthwise(outputs: outputBuffers) }
        let (offsets, size) = plan(inputs: inputBuffers, outputs: outputBuffers)
        let unshared = Set(buffers.indices.map(root)).reduce(0) { $0 + buffers[$1].size }
        let roots = buffers.indices.map(root)
        let offset = { (id: Int) -> Int in offsets[roots[id]]! }
        let steps = pending.map { $0.build(offset) }
        return Program(
            steps: steps,
            arenaSize: size,
            unsharedSize: unshared,
            inputs: zip(graph.inputs, inputBuffers).map { ($0, graph.shape($0), offset($1)) },
            outputs: zip(graph.outputs, outputBuffers).map { ($0, graph.shape($0), offset($1)) },
            storage: storage,
            convKernels: convKernels,
            prefetch: options.prefetchNextWeights ? Program.prefetchPlan(steps) : Array(repeating: nil, count: steps.count))
    }

    // MARK: buffers and operands

    private mutating func newBuffer(_ size: Int, aliasing other: Int? = nil) -> Int {
        buffers.append(Buffer(size: size, alias: other))
        return buffers.count - 1
    }

    private func root(_ id: Int) -> Int {
        var id = id
        while let next = buffers[id].alias { id = next }
        return id
    }

    @discardableResult
    private mutating func define(_ name: String, _ layout: Layout, aliasing other: Int? = nil) -> Int {
        let id = newBuffer(elementCount(graph.shape(name)), aliasing: other)
        placed[name, default: [:]][layout] = id
        produced[name] = layout
        return id
    }

    private func store(_ name: String) -> UnsafePointer<Float> {
        storedConstants[name] ?? storage.store(graph.constants[name]!.floats)
    }

    /// The constant `name`, laid out for `layout` (4-D constants are transposed once here).
    private mutating func constantPointer(_ name: String, _ layout: Layout, rank4Shape: [Int]? = nil) -> UnsafePointer<Float> {
        let key = "\(name)#\(layout)"
        if let pointer = storedConstants[key] { return pointer }
        var value = graph.constants[name]!
        if layout == .nhwc, let shape = rank4Shape {
            value.shape = shape
            value = Reference.transpose(value, perm: [0, 2, 3, 1])
        }
        let pointer = storage.store(value.floats)
        storedConstants[key] = pointer
        return pointer
    }

    /// Where `name` can be read in `layout`: a stored constant, an existing buffer, or a new
    /// buffer filled by a layout change (an alias when the change does not move any element).
    private mutating func operand(_ name: String, _ layout: Layout) throws(EngineError) -> Int {
        if let id = placed[name]?[layout] { return id }
        guard let from = produced[name], let source = placed[name]?[from] else {
            throw .invalidModel("value '\(name)' is used before it is computed")
        }
        let shape = graph.shape(name)
        // Physical shape of the source and the permutation that reaches the target layout.
        let (sourceShape, perm) = layout == .nhwc
            ? (shape, [0, 2, 3, 1])
            : ([shape[0], shape[2], shape[3], shape[1]], [0, 3, 1, 2])
        if isIdentityOrder(sourceShape, perm) {
            let id = newBuffer(elementCount(shape), aliasing: source)
            placed[name]![layout] = id
            return id
        }
        let id = newBuffer(elementCount(shape))
        placed[name]![layout] = id
        pending.append(Pending(inputs: [source], output: id) { offset in
            TransposeStep(input: Operand(constant: nil, offset: offset(source)), output: offset(id),
                          inputShape: sourceShape, perm: perm)
        })
        return id
    }

    /// True when permuting leaves every element where it was (only size-1 axes move).
    private func isIdentityOrder(_ shape: [Int], _ perm: [Int]) -> Bool {
        let order = perm.filter { shape[$0] != 1 }
        return order == order.sorted()
    }

    /// An operand reference for a step: a constant pointer or a buffer to resolve later.
    private enum Ref {
        case constant(UnsafePointer<Float>)
        case buffer(Int)

        func operand(_ offset: (Int) -> Int) -> Operand {
            switch self {
            case let .constant(pointer): Operand(constant: pointer, offset: 0)
            case let .buffer(id): Operand(constant: nil, offset: offset(id))
            }
        }

        var buffer: Int? { if case let .buffer(id) = self { id } else { nil } }
    }

    private mutating func ref(_ name: String, _ layout: Layout) throws(EngineError) -> Ref {
        if graph.constants[name] != nil {
            let shape = graph.shape(name)
            return .constant(constantPointer(name, shape.count == 4 ? layout : .plain, rank4Shape: shape.count == 4 ? shape : nil))
        }
        return .buffer(try operand(name, layout))
    }

    private mutating func emit(_ refs: [Ref], output: Int, _ build: @escaping ([Operand], Int) -> any Step) {
        pending.append(Pending(inputs: refs.compactMap(\.buffer), output: output) { offset in
            build(refs.map { $0.operand(offset) }, offset(output))
        })
    }

    /// The layout `name` is in now (constants can be had in any layout).
    private func currentLayout(_ name: String) -> Layout? {
        graph.constants[name] != nil ? nil : produced[name]
    }

    // MARK: nodes

    private mutating func lower(_ node: Node) throws(EngineError) {
        let kernels = self.kernels // steps capture the table, not the lowering
        let outShape = graph.shape(node.output)
        let count = elementCount(outShape)
        switch node.op {
        case let .conv(window, groups, epilogue):
            try lowerConv(node, window: window, groups: groups, epilogue: epilogue)

        case .batchNorm, .channelAffine:
            let layout: Layout = outShape.count == 4 ? .nhwc : .plain
            let c = outShape[1]
            var scale = graph.constants[node.inputs[1]]!.floats, shift = graph.constants[node.inputs[2]]!.floats
            if case let .batchNorm(epsilon) = node.op {
                let (gamma, beta, mean, variance) = (scale, shift, graph.constants[node.inputs[3]]!.floats, graph.constants[node.inputs[4]]!.floats)
                scale = (0..<c).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
                shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
            }
            let (s, b) = (storage.store(scale), storage.store(shift))
            let x = try ref(node.inputs[0], layout)
            emit([x], output: define(node.output, layout)) { ops, out in
                ChannelAffineStep(count: count, channels: c, scale: s, shift: b, input: ops[0], output: out)
            }

        case let .unary(epilogue):
            let layout = currentLayout(node.inputs[0]) ?? .plain
            let x = try ref(node.inputs[0], layout)
            emit([x], output: define(node.output, layout)) { ops, out in
                ActivationStep(kernels: kernels, epilogue: epilogue, count: count, input: ops[0], output: out)
            }

        case let .pad(mode, pads, fill):
            // In NHWC when the input is (a 4-D pad between convs), with the pads in that order.
            let shape = graph.shape(node.inputs[0])
            let nhwc = shape.count == 4 && currentLayout(node.inputs[0]) == .nhwc
            let order = nhwc ? [0, 2, 3, 1] : Array(shape.indices)
            let map = PadMap(inputShape: order.map { shape[$0] }, pads: (order + order.map { $0 + shape.count }).map { pads[$0] }, mode: mode)
            let x = try ref(node.inputs[0], nhwc ? .nhwc : .plain)
            emit([x], output: define(node.output, nhwc ? .nhwc : .plain)) { ops, out in
                PadStep(map: map, fill: fill, input: ops[0], output: out)
            }

        case let .squeezeExcite(reduce, expand):
            try lowerSqueezeExcite(node, reduce: reduce, expand: expand)

        case .clip:
            let layout = currentLayout(node.inputs[0]) ?? .plain
            let x = try ref(node.inputs[0], layout)
            let low = node.inputs[1].isEmpty ? nil : try ref(node.inputs[1], .plain)
            let high = node.inputs[2].isEmpty ? nil : try ref(node.inputs[2], .plain)
            emit([x] + [low, high].compactMap { $0 }, output: define(node.output, layout)) { ops, out in
                ClipStep(count: count, input: ops[0], low: low == nil ? nil : ops[1],
                         high: high == nil ? nil : ops[low == nil ? 1 : 2], output: out)
            }

        case let .binary(op):
            try lowerBinary(node, op)

        case let .pool(kind, window):
            let x = graph.shape(node.inputs[0])
            var params = gl_pool2d_params()
            (params.in_h, params.in_w, params.channels) = (x[2], x[3], x[1])
            (params.out_h, params.out_w) = (outShape[2], outShape[3])
            (params.kernel_h, params.kernel_w) = (window.kernel.h, window.kernel.w)
            (params.stride_h, params.stride_w) = (window.stride.h, window.stride.w)
            (params.dilation_h, params.dilation_w) = (window.dilation.h, window.dilation.w)
            (params.pad_top, params.pad_left) = (window.padTop, window.padLeft)
            var isMax = true
            if case let .average(includePad) = kind {
                isMax = false
                params.count_include_pad = includePad ? 1 : 0
            }
            let input = try ref(node.inputs[0], .nhwc)
            emit([input], output: define(node.output, .nhwc)) { [params, isMax] ops, out in
                PoolStep(kernels: kernels, params: params, isMax: isMax, input: ops[0], output: out, batch: x[0])
            }

        case .globalAveragePool:
            let x = graph.shape(node.inputs[0])
            let input = try ref(node.inputs[0], .nhwc)
            emit([input], output: define(node.output, .nhwc)) { ops, out in
                GlobalAveragePoolStep(kernels: kernels, pixels: x[2] * x[3], channels: x[1], batch: x[0], input: ops[0], output: out)
            }

        case let .concat(axis):
            // NHWC inputs concatenate in place along the matching physical axis.
            let nhwc = outShape.count == 4 && node.inputs.allSatisfy { currentLayout($0) != .plain }
                && node.inputs.contains { currentLayout($0) == .nhwc }
            let layout: Layout = nhwc ? .nhwc : .plain
            let physicalAxis = nhwc ? [0, 3, 1, 2][axis] : axis
            let physical = { (s: [Int]) in nhwc ? [s[0], s[2], s[3], s[1]] : s }
            let refs = try node.inputs.map { name throws(EngineError) in try ref(name, layout) }
            let chunks = node.inputs.map { elementCount(Array(physical(graph.shape($0))[physicalAxis...])) }
            let outer = elementCount(Array(physical(outShape)[..<physicalAxis]))
            emit(refs, output: define(node.output, layout)) { ops, out in
                ConcatStep(inputs: ops, chunks: chunks, outer: outer, output: out)
            }

        case .reshape:
            // Identity and Dropout keep the shape, so they keep whatever layout the input is in
            // (a Dropout between two convs must not cost two transposes); a real reshape is plain.
            let layout = graph.shape(node.inputs[0]) == outShape ? currentLayout(node.inputs[0]) ?? .plain : .plain
            define(node.output, layout, aliasing: try operand(node.inputs[0], layout))

        case let .transpose(perm):
            let inShape = graph.shape(node.inputs[0])
            if inShape.count == 4, perm == [0, 3, 1, 2], currentLayout(node.inputs[0]) == .plain {
                // NHWC → NCHW (tf2onnx's first node): the input's bytes already are the result in
                // the NHWC layout the convs read, so no copy is made unless a plain reader needs one.
                define(node.output, .nhwc, aliasing: try operand(node.inputs[0], .plain))
                return
            }
            let x = try ref(node.inputs[0], .plain)
            emit([x], output: define(node.output, .plain)) { ops, out in
                TransposeStep(input: ops[0], output: out, inputShape: inShape, perm: perm)
            }

        case let .gemm(alpha, beta, transA, transB, epilogue):
            try lowerGemm(node, alpha: alpha, beta: beta, transA: transA, transB: transB, epilogue: epilogue)

        case .matMul:
            try lowerMatMul(node)

        case let .softmax(axis, coerce2D):
            let shape = graph.shape(node.inputs[0])
            let outer = elementCount(Array(shape[..<axis]))
            let size = coerce2D ? elementCount(Array(shape[axis...])) : shape[axis]
            let inner = coerce2D ? 1 : elementCount(Array(shape[(axis + 1)...]))
            let x = try ref(node.inputs[0], .plain)
            emit([x], output: define(node.output, .plain)) { ops, out in
                SoftmaxStep(outer: outer, size: size, inner: inner, input: ops[0], output: out)
            }

        case let .reduceMean(axes, keepDims):
            let shape = graph.shape(node.inputs[0])
            if shape.count == 4, axes == [2, 3] {
                // The mean over H and W is a global average pool.
                let input = try ref(node.inputs[0], .nhwc)
                let pooled = newBuffer(count)
                emit([input], output: pooled) { ops, out in
                    GlobalAveragePoolStep(kernels: kernels, pixels: shape[2] * shape[3], channels: shape[1], batch: shape[0], input: ops[0], output: out)
                }
                // [N, C, 1, 1] NHWC and [N, C] are the same bytes as the plain result.
                define(node.output, .plain, aliasing: pooled)
                if keepDims { placed[node.output]![.nhwc] = pooled }
                return
            }
            let reduced = Set(axes)
            let kept = shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
            let keptStrides = Reference.strides(kept).enumerated().map { reduced.contains($0.offset) ? 0 : $0.element }
            let scale = 1 / Float(axes.map { shape[$0] }.reduce(1, *))
            let x = try ref(node.inputs[0], .plain)
            emit([x], output: define(node.output, .plain)) { ops, out in
                ReduceMeanStep(inputShape: shape, outputStrides: keptStrides, outputCount: count, scale: scale, input: ops[0], output: out)
            }
        }
    }

    private mutating func lowerConv(_ node: Node, window: Window, groups: Int, epilogue: Epilogue) throws(EngineError) {
        let x = graph.shape(node.inputs[0]), w = graph.shape(node.inputs[1]), y = graph.shape(node.output)
        var p = gl_conv2d_params()
        (p.in_h, p.in_w, p.in_c) = (x[2], x[3], x[1])
        (p.out_h, p.out_w, p.out_c) = (y[2], y[3], y[1])
        (p.kernel_h, p.kernel_w) = (w[2], w[3])
        (p.stride_h, p.stride_w) = (window.stride.h, window.stride.w)
        (p.dilation_h, p.dilation_w) = (window.dilation.h, window.dilation.w)
        (p.pad_top, p.pad_left) = (window.padTop, window.padLeft)
        p.groups = groups
        p.set(epilogue)
        if (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w) == (1, 1, 1, 1), (p.pad_top, p.pad_left, p.groups) == (0, 0, 1),
           (p.in_h, p.in_w) == (p.out_h, p.out_w) {
            // A pointwise conv is the same GEMM whatever the image's shape: seen as H·W rows of one
            // pixel, threads split it evenly (a 7×7 layer's 7 rows would split 3/4 over 2 threads).
            (p.in_h, p.in_w, p.out_h, p.out_w) = (p.in_h * p.in_w, 1, p.out_h * p.out_w, 1)
        }
        let weights = graph.constants[node.inputs[1]]!.floats
        let bias = node.inputs[2].isEmpty ? nil : graph.constants[node.inputs[2]]!.floats
        let input: Ref
        if let chw = chwParams(p, reading: node.inputs[0]) {
            p = chw
            input = try ref(node.inputs[0], .plain)
        } else {
            input = try ref(node.inputs[0], .nhwc)
        }
        let residual = node.inputs.count > 3 ? try ref(node.inputs[3], .nhwc) : nil
        try emitConv(node.name, p, weights: weights, bias: bias, input: input, residual: residual,
                     output: define(node.output, .nhwc), batch: x[0])
    }

    /// `p` reading `name` as it is, in CHW, when getting it in NHWC would take a transpose (the
    /// model's NCHW input, for its first conv) and the kernel table has a kernel for that.
    private func chwParams(_ p: gl_conv2d_params, reading name: String) -> gl_conv2d_params? {
        guard currentLayout(name) == .plain, placed[name]?[.nhwc] == nil,
              !isIdentityOrder(graph.shape(name), [0, 2, 3, 1]) else { return nil }
        var chw = p
        chw.input_chw = 1
        return withUnsafePointer(to: chw, { gl_conv2d_select(kernels, $0) }) != nil ? chw : nil
    }

    /// Picks the kernel for `p` and packs the weights (OIHW) and bias for it.
    private mutating func packConv(_ name: String, _ p: gl_conv2d_params, weights: [Float], bias: [Float]?) throws(EngineError)
        -> (kernel: UnsafePointer<gl_conv2d_kernel>, packed: UnsafePointer<Float>) {
        guard let kernel = withUnsafePointer(to: p, { gl_conv2d_select(kernels, $0) }) else {
            throw .unsupportedFeature(node: name, what: "this convolution shape (no kernel in \(String(cString: kernels.pointee.variant)))")
        }
        let size = withUnsafePointer(to: p) { kernel.pointee.packed_size($0) }
        let packed = storage.allocate(size)
        withUnsafePointer(to: p) { params in
            weights.withUnsafeBufferPointer { w in
                if let bias {
                    bias.withUnsafeBufferPointer { kernel.pointee.pack(params, w.baseAddress, $0.baseAddress, packed) }
                } else {
                    kernel.pointee.pack(params, w.baseAddress, nil, packed)
                }
            }
        }
        convKernels.append((name, String(cString: kernel.pointee.name)))
        return (kernel, UnsafePointer(packed))
    }

    /// Picks the kernel for `p`, packs the weights (OIHW) and emits the step.
    private mutating func emitConv(_ name: String, _ p: gl_conv2d_params, weights: [Float], bias: [Float]?,
                                   input: Ref, residual: Ref?, output: Int, batch: Int) throws(EngineError) {
        let (kernel, packedPointer) = try packConv(name, p, weights: weights, bias: bias)
        emit([input] + (residual.map { [$0] } ?? []), output: output) { ops, out in
            ConvStep(kernel: kernel, params: p, packed: packedPointer, input: ops[0],
                     residual: residual == nil ? nil : ops[1], output: out, batch: batch)
        }
        pending[pending.count - 1].conv = Conv(kernel: kernel, params: p, packed: packedPointer, input: input,
                                               residual: residual, batch: batch)
    }

    /// Squeeze-excite as one step: its two 1×1 convs packed for the kernels' pointwise conv on one pixel.
    private mutating func lowerSqueezeExcite(_ node: Node, reduce: Epilogue, expand: Epilogue) throws(EngineError) {
        let kernels = self.kernels
        let x = graph.shape(node.inputs[0])
        let (channels, squeezed) = (x[1], graph.shape(node.inputs[1])[0])
        func fc(_ weights: String, _ bias: String, in inC: Int, out outC: Int, _ epilogue: Epilogue) throws(EngineError) -> SqueezeExciteStep.FC {
            var p = gl_conv2d_params()
            (p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c) = (1, 1, inC, 1, 1, outC)
            (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.groups) = (1, 1, 1, 1, 1, 1, 1)
            p.set(epilogue)
            let (kernel, packed) = try packConv(node.name, p, weights: graph.constants[weights]!.floats,
                                                bias: bias.isEmpty ? nil : graph.constants[bias]!.floats)
            return SqueezeExciteStep.FC(kernel: kernel, params: p, packed: packed)
        }
        let r = try fc(node.inputs[1], node.inputs[2], in: channels, out: squeezed, reduce)
        let e = try fc(node.inputs[3], node.inputs[4], in: squeezed, out: channels, expand)
        let input = try ref(node.inputs[0], .nhwc)
        emit([input], output: define(node.output, .nhwc)) { ops, out in
            SqueezeExciteStep(kernels: kernels, reduce: r, expand: e, pixels: x[2] * x[3], channels: channels, batch: x[0],
                              input: ops[0], output: out)
        }
    }

    // MARK: fusion

    /// Replaces each conv followed by the depthwise conv that is its only reader (a pointwise
    /// expansion, or a stem) with one ExpandDepthwiseStep, when the tensor between them is bigger
    /// than a few bands (smaller ones stay in cache anyway). That tensor then has no buffer at all.
    private mutating func fuseExpandDepthwise(outputs: [Int]) {
        var readers: [Int: Int] = [:]
        for step in pending { for id in step.inputs { readers[root(id), default: 0] += 1 } }
        for id in outputs { readers[root(id), default: 0] += 1 }
        var fused: [Pending] = []
        var index = 0
        while index < pending.count {
            defer { index += 1 }
            guard index + 1 < pending.count, let e = pending[index].conv, let d = pending[index + 1].conv,
                  let expanded = d.input.buffer, root(expanded) == root(pending[index].output),
                  readers[root(expanded)] == 1, e.residual == nil, e.batch == 1, d.batch == 1 else {
                fused.append(pending[index])
                continue
            }
            var dwParams = d.params
            let band = gl_expand_dw_band_rows(&dwParams, options.fusedBandBytes)
            var f = gl_expand_dw(expand: e.kernel, expand_params: e.params, expand_packed: e.packed,
                                 dw: d.kernel, dw_params: d.params, dw_packed: d.packed, band_rows: band)
            let expandedBytes = d.params.in_h * d.params.in_w * d.params.in_c * MemoryLayout<Float>.size
            guard gl_expand_dw_valid(&f) != 0, d.params.stride_h == d.params.stride_w,
                  expandedBytes >= 4 * options.fusedBandBytes else {
                fused.append(pending[index])
                continue
            }
            let dwStep = pending[index + 1]
            let refs = [e.input] + (d.residual.map { [$0] } ?? [])
            let hasResidual = d.residual != nil
            fused.append(Pending(inputs: refs.compactMap(\.buffer), output: dwStep.output) { [f] offset in
                let ops = refs.map { $0.operand(offset) }
                return ExpandDepthwiseStep(f, input: ops[0], residual: hasResidual ? ops[1] : nil, output: offset(dwStep.output))
            })
            index += 1
        }
        pending = fused
    }

    private mutating func lowerBinary(_ node: Node, _ op: BinaryOp) throws(EngineError) {
        let outShape = graph.shape(node.output)
        let shapes = node.inputs.map { graph.shape($0) }
        // Stay in NHWC when an operand already is and the other can follow without a copy.
        var layout = Layout.plain
        if outShape.count == 4, node.inputs.contains(where: { currentLayout($0) == .nhwc }) {
            let follows = zip(node.inputs, shapes).allSatisfy { name, shape in
                shape.count == 4 || graph.constants[name] != nil
                    || isIdentityOrder(Array(repeating: 1, count: 4 - shape.count) + shape, [0, 2, 3, 1])
            }
            if follows { layout = .nhwc }
        }
        var refs: [Ref] = []
        var physical: [[Int]] = []
        for (name, shape) in zip(node.inputs, shapes) {
            if layout == .nhwc {
                let padded = Array(repeating: 1, count: 4 - shape.count) + shape
                physical.append([padded[0], padded[2], padded[3], padded[1]])
                if shape.count == 4 {
                    refs.append(try ref(name, .nhwc))
                } else if graph.constants[name] != nil {
                    refs.append(.constant(constantPointer(name, .nhwc, rank4Shape: padded)))
                } else {
                    refs.append(try ref(name, .plain)) // same bytes (checked above)
                }
            } else {
                physical.append(shape)
                refs.append(try ref(name, .plain))
            }
        }
        let shape = layout == .nhwc ? [outShape[0], outShape[2], outShape[3], outShape[1]] : outShape
        let sa = Reference.broadcastStrides(physical[0], to: shape), sb = Reference.broadcastStrides(physical[1], to: shape)
        emit(refs, output: define(node.output, layout)) { ops, out in
            BinaryStep(op: op, a: ops[0], b: ops[1], output: out, shape: shape, strideA: sa, strideB: sb)
        }
    }

    /// A product with constant weights is a 1×1 convolution over the rows of A, so it gets the
    /// fast pointwise kernel and a fused bias. Like every pointwise conv, A's M rows are M output
    /// rows of one pixel, which threads split evenly.
    private mutating func emitDense(_ node: Node, rows: Int, k: Int, n: Int, weightsNK: [Float], bias: [Float]?,
                                    epilogue: Epilogue = .identity) throws(EngineError) {
        var p = gl_conv2d_params()
        (p.in_h, p.in_w, p.in_c) = (rows, 1, k)
        (p.out_h, p.out_w, p.out_c) = (rows, 1, n)
        (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w) = (1, 1, 1, 1, 1, 1)
        p.groups = 1
        p.set(epilogue)
        let input = try ref(node.inputs[0], .plain)
        try emitConv(node.name, p, weights: weightsNK, bias: bias, input: input, residual: nil,
                     output: define(node.output, .plain), batch: 1)
    }

    private mutating func lowerGemm(_ node: Node, alpha: Float, beta: Float, transA: Bool, transB: Bool, epilogue: Epilogue) throws(EngineError) {
        let kernels = self.kernels
        let a = graph.shape(node.inputs[0])
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let n = graph.shape(node.output)[1]
        let cName = node.inputs[2]
        let cShape = cName.isEmpty ? [] : graph.shape(cName)
        let cIsRowBias = cName.isEmpty || (graph.constants[cName] != nil && elementCount(cShape) == n && (cShape.last ?? 1) == n)
            || (graph.constants[cName] != nil && elementCount(cShape) == 1)
        if !transA, let weights = graph.constants[node.inputs[1]], cIsRowBias {
            let w = weights.floats
            let nk = (0..<n).flatMap { j in (0..<k).map { i in alpha * (transB ? w[j * k + i] : w[i * n + j]) } }
            var bias: [Float]?
            if !cName.isEmpty {
                let c = graph.constants[cName]!.floats
                bias = (0..<n).map { beta * c[c.count == 1 ? 0 : $0] }
            }
            try emitDense(node, rows: m, k: k, n: n, weightsNK: nk, bias: bias, epilogue: epilogue)
            return
        }
        let layoutA = transA ? GemmStep.Matrix(rowStride: 1, colStride: m) : GemmStep.Matrix(rowStride: k, colStride: 1)
        let layoutB = transB ? GemmStep.Matrix(rowStride: 1, colStride: k) : GemmStep.Matrix(rowStride: n, colStride: 1)
        var refs = [try ref(node.inputs[0], .plain), try ref(node.inputs[1], .plain)]
        var cStrides = (row: 0, col: 0)
        if !cName.isEmpty {
            let s = Reference.broadcastStrides(cShape, to: [m, n])
            cStrides = (s[0], s[1])
            refs.append(try ref(cName, .plain))
        }
        let output = define(node.output, .plain)
        emit(refs, output: output) { ops, out in
            GemmStep(kernels: kernels, m: m, n: n, k: k, alpha: alpha, a: ops[0], layoutA: layoutA, b: ops[1], layoutB: layoutB,
                     batches: [(0, 0, 0)], c: ops.count > 2 ? ops[2] : nil, cStrides: cStrides, beta: beta, output: out)
        }
        if !epilogue.isIdentity {
            // The strided GEMM has no epilogue: the fused activation runs over its result in place.
            emit([.buffer(output)], output: output) { ops, out in
                ActivationStep(kernels: kernels, epilogue: epilogue, count: m * n, input: ops[0], output: out)
            }
        }
    }

    private mutating func lowerMatMul(_ node: Node) throws(EngineError) {
        let kernels = self.kernels
        var a = graph.shape(node.inputs[0]), b = graph.shape(node.inputs[1])
        if a.count == 1 { a.insert(1, at: 0) }
        if b.count == 1 { b.append(1) }
        let (m, k, n) = (a[a.count - 2], a[a.count - 1], b[b.count - 1])
        if b.count == 2, let weights = graph.constants[node.inputs[1]] {
            let w = weights.floats
            let nk = (0..<n).flatMap { j in (0..<k).map { i in w[i * n + j] } }
            try emitDense(node, rows: elementCount(a) / k, k: k, n: n, weightsNK: nk, bias: nil)
            return
        }
        // Batch dimensions broadcast like any elementwise op.
        let batchA = Array(a.dropLast(2)), batchB = Array(b.dropLast(2))
        let batchShape = try broadcast(batchA, batchB, node: node.name)
        let sa = Reference.broadcastStrides(batchA, to: batchShape), sb = Reference.broadcastStrides(batchB, to: batchShape)
        var batches: [(a: Int, b: Int, y: Int)] = []
        Reference.forEach(batchShape, sa, sb) { i, ia, ib in batches.append((ia * m * k, ib * k * n, i * m * n)) }
        let refs = [try ref(node.inputs[0], .plain), try ref(node.inputs[1], .plain)]
        emit(refs, output: define(node.output, .plain)) { ops, out in
            GemmStep(kernels: kernels, m: m, n: n, k: k, alpha: 1, a: ops[0], layoutA: .init(rowStride: k, colStride: 1),
                     b: ops[1], layoutB: .init(rowStride: n, colStride: 1),
                     batches: batches, c: nil, cStrides: (0, 0), beta: 0, output: out)
        }
    }

    // MARK: memory plan

    /// Assigns arena offsets so that buffers whose lifetimes overlap never share memory:
    /// largest first, each at the lowest offset that fits between the live ones (greedy by size).
    private func plan(inputs: [Int], outputs: [Int]) -> (offsets: [Int: Int], size: Int) {
        var first: [Int: Int] = [:], last: [Int: Int] = [:]
        func touch(_ id: Int, _ time: Int) {
            let r = root(id)
            first[r] = min(first[r] ?? time, time)
            last[r] = max(last[r] ?? time, time)
        }
        for id in inputs { touch(id, -1) }
        for (time, step) in pending.enumerated() {
            step.inputs.forEach { touch($0, time) }
            touch(step.output, time)
        }
        for id in outputs { touch(id, pending.count) }
        let align = 16 // floats: 64-byte lines
        let roots = first.keys.sorted { buffers[$0].size > buffers[$1].size || (buffers[$0].size == buffers[$1].size && $0 < $1) }
        var placedRanges: [(id: Int, offset: Int, end: Int)] = []
        var offsets: [Int: Int] = [:]
        var total = 0
        for id in roots {
            let size = (buffers[id].size + align - 1) / align * align
            let live = placedRanges.filter { first[$0.id]! <= last[id]! && first[id]! <= last[$0.id]! }
                .sorted { $0.offset < $1.offset }
            var offset = 0
            for range in live {
                if range.offset >= offset + size { break }
                offset = max(offset, range.end)
            }
            offsets[id] = offset
            placedRanges.append((id, offset, offset + size))
            total = max(total, offset + size)
        }
        return (offsets, total)
    }
}

/// Copies a folded constant into the arena (a graph output that needed no computation).
final class CopyStep: Step, @unchecked Sendable {
    var kind: String { "Copy" }
    let source: UnsafePointer<Float>, count: Int, output: Int

    init(source: UnsafePointer<Float>, count: Int, output: Int) {
        (self.source, self.count, self.output) = (source, count, output)
    }

    func run(_ context: RunContext) { (context.arena + output).update(from: source, count: count) }
}
