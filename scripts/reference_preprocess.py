# The reference preprocessing (Pillow) that the goldens are made with and GlimpseImage must reproduce.
import numpy as np
from PIL import Image


def reference_preprocess(path, input_size, resize_ratio, mean, std):
    """JPEG file -> float32 [1, 3, S, S] (NCHW, RGB) as the EfficientNet-Lite models expect.

    Resize (Pillow BILINEAR, which widens its filter when downscaling, i.e.
    antialiased) so the short side is round(S / resize_ratio), centre-crop S x S
    with the odd pixel on the right/bottom, then (x - mean) / std per RGB channel.
    The models' glimpse.* metadata give input_size, resize_ratio (0.875), mean and std.
    Python's round() is round-half-to-even; the Swift side must round the same way.
    """
    img = Image.open(path).convert("RGB")
    s = input_size
    short = round(s / resize_ratio)
    w, h = img.size
    scale = short / min(w, h)
    nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - s) // 2, (nh - s) // 2
    img = img.crop((left, top, left + s, top + s))
    x = (np.asarray(img, np.float32) - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis])
