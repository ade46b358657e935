# The reference preprocessing (Pillow) that the goldens are made with and GlimpseImage must reproduce.
import numpy as np
from PIL import Image


def resized_size(w, h, height, width, resize_ratio):
    """The size (nw, nh) a w x h image is resized to before the centre crop of height x width.

    The image is scaled, keeping its aspect ratio, until it covers round(height / ratio) x
    round(width / ratio) (timm's ResizeKeepRatio): the axis that needs the larger scale gets its
    target exactly, the other round(side * scale), never below the crop. For a square input S x S
    that is the short side resized to round(S / ratio). Python's round() is round-half-to-even;
    the Swift side must round the same way.
    """
    th, tw = round(height / resize_ratio), round(width / resize_ratio)
    # tw / w >= th / h, compared in integers so no floating-point rounding decides it; ties go to the width.
    if tw * h >= th * w:
        return tw, max(height, round(h * (tw / w)))
    return max(width, round(w * (th / h))), th


def reference_preprocess(path, input_size, resize_ratio, mean, std, layout="NCHW"):
    """JPEG file -> float32 [1, 3, H, W] (NCHW) or [1, H, W, 3] (NHWC), RGB.

    input_size is S (an S x S input, as the EfficientNet-Lite models take) or (H, W).
    Resize (Pillow BILINEAR, which widens its filter when downscaling, i.e. antialiased)
    keeping the aspect ratio so the image covers round(H / resize_ratio) x round(W / resize_ratio)
    (for S x S: the short side becomes round(S / resize_ratio)), centre-crop H x W with the odd
    pixel on the right/bottom, then (x - mean) / std per RGB channel.
    The models' glimpse.* metadata give input_size, resize_ratio (0.875), mean and std.
    """
    img = Image.open(path).convert("RGB")
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    w, h = img.size
    nw, nh = resized_size(w, h, height, width, resize_ratio)
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - width) // 2, (nh - height) // 2
    img = img.crop((left, top, left + width, top + height))
    x = (np.asarray(img, np.float32) - np.float32(mean)) / np.float32(std)
    if layout == "NHWC":
        return np.ascontiguousarray(x[np.newaxis])
    if layout != "NCHW":
        raise ValueError(f"layout must be NCHW or NHWC, not {layout!r}")
    return np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis])
