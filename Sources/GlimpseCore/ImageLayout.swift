// How an image tensor orders its axes: the one word the engine (which reads a model's input) and the image pipeline (which writes it) share.

/// The order of a 4-D image tensor's axes. ONNX's own convention is NCHW (torchvision and most
/// PyTorch exports); tf2onnx keeps a Keras model's NHWC unless told otherwise.
public enum ImageLayout: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// [N, C, H, W]: one plane per channel.
    case nchw = "NCHW"
    /// [N, H, W, C]: channels interleaved per pixel.
    case nhwc = "NHWC"

    /// "NCHW" or "NHWC", case and spaces ignored; nil for anything else.
    public init?(parsing text: String) {
        self.init(rawValue: text.filter { !$0.isWhitespace }.uppercased())
    }

    public var description: String { rawValue }
}
