// Layouts: where each runtime value lives (plain row-major or NHWC), buffers and their aliases, and the
// layout changes a reader needs (a transpose step, or an alias when no element moves).
import CKernels
/// How a runtime value is laid out in memory. Convolutions and pools work on NHWC;
/// everything else sees ONNX's row-major order ("plain", NCHW for images).

enum Layout: Hashable { case plain, nhwc }

extension Lowering {
    mutating func newBuffer(_ size: Int, aliasing other: Int? = nil) -> Int {
        buffers.append(Buffer(size: size, alias: other))
        return buffers.count - 1
    }

    func root(_ id: Int) -> Int {
        var id = id
        while let next = buffers[id].alias { id = next }
        return id
    }

    @discardableResult
    mutating func define(_ name: String, _ layout: Layout, aliasing other: Int? = nil) -> Int {
        let id = newBuffer(elementCount(graph.shape(name)), aliasing: other)
        placed[name, default: [:]][layout] = id
        produced[name] = layout
        return id
    }
    /// Where `name` can be read in `layout`: a stored constant, an existing buffer, or a new
    /// buffer filled by a layout change (an alias when the change does not move any element).
    mutating func operand(_ name: String, _ layout: Layout) throws(EngineError) -> Int {
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
    func isIdentityOrder(_ shape: [Int], _ perm: [Int]) -> Bool {
        let order = perm.filter { shape[$0] != 1 }
        return order == order.sorted()
    }

    /// An operand reference for a step: a constant pointer or a buffer to resolve later.
    enum Ref {
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

    mutating func ref(_ name: String, _ layout: Layout) throws(EngineError) -> Ref {
        if graph.constants[name] != nil {
            let shape = graph.shape(name)
            return .constant(constantPointer(name, shape.count == 4 ? layout : .plain, rank4Shape: shape.count == 4 ? shape : nil))
        }
        return .buffer(try operand(name, layout))
    }

    /// The layout `name` is in now (constants can be had in any layout).
    func currentLayout(_ name: String) -> Layout? {
        graph.constants[name] != nil ? nil : produced[name]
    }
}
