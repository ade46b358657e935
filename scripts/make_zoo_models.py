#!/usr/bin/env python3
# Writes exporter-style ONNX CNN classifiers with seeded random weights to models/zoo/, with ONNX Runtime goldens.
"""The engine has to load models "as any mainstream exporter writes them" and agree
with ONNX Runtime; these stand in for real exports without torch or TensorFlow.
Each graph is written with onnx.helper the way torch.onnx.export (torchvision
architectures) or tf2onnx (Keras applications) lays it out: the real
architecture, channel counts and 224x224 resolution, so the models also serve
for benchmarking against ONNX Runtime, but random weights.

Writes, per model:
  models/zoo/<name>.onnx
  models/zoo/goldens/<name>/<entry>.input.f32   seeded uniform [-1, 1] input, raw little-endian
                                                float32 in the model's own layout, batch 1
  models/zoo/goldens/<name>/<entry>.logits.f32  ONNX Runtime's output (1 thread, no graph
                                                optimizations), raw little-endian float32
  models/zoo/goldens/<name>/index.json          {"model", "input_shape", "layout", "style",
                                                "entries": [{"name", "input", "logits"}]}
The entries' inputs are the same numbers for every 3x224x224 model, drawn as NCHW
and transposed for NHWC models, so mobilenetv2_tf and mobilenetv2_tf_nchw (same
weights) have matching goldens.

A model is rebuilt only when this script is newer than its .onnx file (or with
--force). --report checks the written models and prints, per model, its
parameters, op histogram, golden logit statistics and ONNX Runtime's 1-thread
latency.

    scripts/make_zoo_models.py [--force] [--report] [model ...]
"""
import argparse
import collections
import json
import math
import os
import shutil
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
ZOO_DIR = ROOT / "models" / "zoo"
GOLDENS_DIR = ZOO_DIR / "goldens"
CLASSES = 1000
# (entry, seed); "random" uses make_goldens.py's seed, so its input is that script's "random" too.
GOLDEN_ENTRIES = [("random", 1234), ("random1", 1235), ("random2", 1236)]
# Random weights give no ImageNet-like logits, but a net whose activations blew up or died
# on the way gives logits that are huge, NaN or all alike; this range catches both.
LOGITS_STD_RANGE = (0.1, 100.0)

# Preprocessing, as glimpse.* metadata (pixel values 0..255).
TORCHVISION_PREPROCESSING = {"glimpse.mean": "123.675,116.28,103.53", "glimpse.std": "58.395,57.12,57.375"}
KERAS_MOBILENET_PREPROCESSING = {"glimpse.mean": "127.5,127.5,127.5", "glimpse.std": "127.5,127.5,127.5"}
# Keras' EfficientNet rescales and normalizes inside the model.
KERAS_EFFICIENTNET_PREPROCESSING = {"glimpse.mean": "0,0,0", "glimpse.std": "1,1,1"}

PRODUCERS = {"pytorch": ("pytorch", "2.1.0"), "tf2onnx": ("tf2onnx", "1.16.1 15c810")}

# Weights are scaled on the activations of a few inputs, computed in NumPy as the graph is built.
# One would do for the scale, but BatchNorm statistics fitted to a single image fit it exactly and
# every other image a little worse, layer after layer: EfficientNet-B0's logits came out 30x larger
# on other inputs. Over 4 they stay within 4x (the squeeze-excite nets; the others within 1.2x).
CALIBRATION_SEED, CALIBRATION_BATCH = 0, 4

# The activations in NumPy (the decomposed forms compute the same functions).
ACTIVATIONS = {
    "relu": lambda v: np.maximum(v, 0),
    "relu6": lambda v: np.clip(v, 0, 6),
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "hardswish": lambda v: v * np.clip(v + 3, 0, 6) / 6,
    "hardsigmoid": lambda v: np.clip(v + 3, 0, 6) / 6,
}


def rms_of(values):
    return float(np.sqrt(np.mean(np.square(values, dtype=np.float64))))


def conv2d(x, weight, stride, pads, group):
    """Reference Conv of an [N, C, H, W] batch (no bias): a batched matrix product for 1x1, im2col
    for kxk, per-tap multiply-adds for depthwise."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, cin = x.shape[:2]
    cout, cin_per_group, k, _ = weight.shape
    oh, ow = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    if group == cin and cin_per_group == 1:
        out = np.zeros((n, cout, oh, ow), np.float32)
        for i in range(k):
            for j in range(k):
                out += weight[:, 0, i, j, None, None] * x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
        return out
    assert group == 1, "only plain and depthwise convs"
    if k == 1:
        x = x[:, :, ::stride, ::stride]
        return (weight.reshape(cout, cin) @ x.reshape(n, cin, -1)).reshape(n, cout, oh, ow)
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    columns = windows[:, :, :oh, :ow].transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, -1)
    return (columns @ weight.reshape(cout, -1).T).reshape(n, oh, ow, cout).transpose(0, 3, 1, 2)


def make_divisible(v, divisor=8):
    """torchvision's _make_divisible (Keras' _depth): round to a multiple of 8, never lose more than 10%."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def correct_pad(h, w, k):
    """Keras imagenet_utils.correct_pad as (top, left, bottom, right): the ZeroPadding2D before a
    stride-2 "valid" conv; an even size gets one less row/column at the top/left than at the bottom/right."""
    return (k // 2 - (1 - h % 2), k // 2 - (1 - w % 2), k // 2, k // 2)


def same_pads(h, w, k, stride):
    """TF "SAME" as (top, left, bottom, right), as tf2onnx writes it into Conv.pads: the extra
    row/column of an odd total goes to the bottom/right."""
    def one(size):
        total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
        return total // 2, total - total // 2
    (top, bottom), (left, right) = one(h), one(w)
    return (top, left, bottom, right)


class GraphBuilder:
    """One model's nodes and initializers, appended by methods named after the layers.

    Random weights only look like a trained net's if activations stay O(1) through 50 layers,
    which no fixed init guarantees once BatchNorm statistics are random too. So the builder runs
    the net on a calibration batch as it writes it (NumPy, [N, C, H, W] whatever the layout) and
    scales like LSUV: each Conv, Gemm and MatMul draws He-style normal weights and rescales them
    so that its output has RMS 1 on that batch, and each BatchNorm gets its input's real
    per-channel mean and variance, with random spread, as a trained one would. ONNX Runtime, not
    this NumPy, computes the goldens.

    Style decides what an exporter would write: "pytorch" (torch.onnx.export of torchvision)
    or "tf2onnx" (Keras applications), and `norm` / `dw_norm` how a BatchNorm after a conv /
    depthwise conv appears:
      "bn"      Conv (no bias) + BatchNormalization      torch, without constant folding
      "fold"    Conv with the BatchNorm folded into it    torch with folding; tf2onnx
      "muladd"  Conv (no bias) + Mul + Add, [C,1,1]       tf2onnx when it cannot fold (depthwise)
      "bias"    Conv with its own bias, no BatchNorm      SqueezeNet, squeeze-excite
    """

    def __init__(self, name, style, opset, input_name, batch=1, chw=(3, 224, 224), layout="NCHW",
                 norm="bn", dw_norm=None, eps=1e-5, pad_value=None, constant_nodes=False, seed=None):
        self.name, self.style, self.opset, self.layout = name, style, opset, layout
        self.keras = style == "tf2onnx"
        self.norm, self.dw_norm, self.eps = norm, dw_norm or norm, eps
        # Keras' ZeroPadding2D becomes Pad(x, pads) or Pad(x, pads, 0.0): both appear in the wild.
        self.pad_value = pad_value
        # Older torch exports write scalars as Constant nodes rather than initializers.
        self.constant_nodes = constant_nodes
        self.rng = np.random.default_rng(zlib.crc32((seed or name).encode()))
        self.nodes, self.initializers, self.scalars = [], [], {}
        self.counts = collections.Counter()
        self.value = {}  # tensor -> its value on the calibration batch
        self.pre_softmax = None
        self.batch, self.chw = batch, tuple(chw)
        c, h, w = chw
        dims = [batch, c, h, w] if layout == "NCHW" else [batch, h, w, c]
        self.input = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, dims)
        self.input_shape = [1 if isinstance(d, str) else d for d in dims]
        calibration = np.random.default_rng(CALIBRATION_SEED).uniform(-1, 1, (CALIBRATION_BATCH, *self.chw))
        calibration = calibration.astype(np.float32)
        self.value[input_name] = calibration
        self.x = input_name
        if layout == "NHWC":
            # tf2onnx's transpose optimizer pushes every NHWC<->NCHW pair together and leaves this one.
            self.x = self.node("Transpose", [input_name], calibration, perm=[0, 3, 1, 2])

    # --- Plumbing ---------------------------------------------------------------------

    def fresh(self, kind):
        self.counts[kind] += 1
        return f"{kind}_{self.counts[kind]}"

    def node(self, op, inputs, value, **attrs):
        """Appends a one-output node whose output on the calibration batch is `value`."""
        name = self.fresh(op)
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        self.value[out] = np.asarray(value, np.float32)
        return out

    def const(self, array, kind="const"):
        name = self.fresh(kind)
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        self.value[name] = array
        return name

    def ints(self, values):
        return self.const(np.array(values, np.int64))

    def scalar(self, value):
        """A float32 0-d constant: one shared initializer per value, or a Constant node per use."""
        array = np.array(value, np.float32)
        if self.constant_nodes:
            name = self.fresh("Constant")
            self.nodes.append(helper.make_node("Constant", [], [name], name=name,
                                               value=numpy_helper.from_array(array)))
            self.value[name] = array
            return name
        if value not in self.scalars:
            self.scalars[value] = self.const(array, "scalar")
        return self.scalars[value]

    def binary(self, op, a, b):
        """Add, Sub, Mul or Div of two tensors or constants, broadcast as ONNX (and NumPy) do."""
        function = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        return self.node(op, [a, b], function(self.value[a], self.value[b]))

    def shape(self, x):
        """Without the batch."""
        return self.value[x].shape[1:]

    def channels(self, x):
        return self.value[x].shape[1]

    def uniform(self, low, high, n):
        return self.rng.uniform(low, high, n).astype(np.float32)

    def unit_output_weight(self, shape, apply):
        """He-style normal weights, rescaled so that apply(weights) -- the layer's output on the
        calibration batch -- has RMS 1; returns both."""
        weight = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(2 / math.prod(shape[1:])))
        y = apply(weight)
        scale = np.float32(1 / max(rms_of(y), 1e-12))
        return weight * scale, y * scale

    # --- Layers -----------------------------------------------------------------------

    def conv(self, x, cout, k=1, stride=1, pads=None, depthwise=False, norm=None, act=None):
        """Conv, its BatchNorm in the model's form, and an activation.

        pads: None for the exporter's usual padding ((k-1)/2 on each side; for Keras a stride-2
        conv gets an explicit Pad of correct_pad and no padding of its own), "same" for TF SAME
        written into the Conv, "valid", or (top, left, bottom, right)."""
        cin, h, w = self.shape(x)
        if pads is None and self.keras and stride > 1 and k > 1:
            x = self.pad(x, correct_pad(h, w, k))
            cin, h, w = self.shape(x)
            pads = "valid"
        if pads is None:
            pads = ((k - 1) // 2,) * 4
        elif pads == "same":
            pads = same_pads(h, w, k, stride)
        elif pads == "valid":
            pads = (0, 0, 0, 0)
        group = cin if depthwise else 1
        assert not depthwise or cout == cin, "a depthwise conv keeps its channels"
        norm = norm or (self.dw_norm if depthwise else self.norm)
        weight, y = self.unit_output_weight((cout, cin // group, k, k),
                                            lambda wt: conv2d(self.value[x], wt, stride, pads, group))
        attrs = dict(dilations=[1, 1], group=group, kernel_shape=[k, k], pads=list(pads), strides=[stride, stride])
        if norm == "bias":
            bias = self.uniform(-0.1, 0.1, cout)
            y = self.node("Conv", [x, self.const(weight, "weight"), self.const(bias, "bias")],
                          y + bias[:, None, None], **attrs)
            return self.act(y, act)
        # Running statistics near the real ones, gamma and beta as a trained net's are: spread,
        # none trivial.
        mean, var = y.mean(axis=(0, 2, 3)), y.var(axis=(0, 2, 3))
        mean = (mean + self.rng.normal(0, 0.1, cout) * np.sqrt(var)).astype(np.float32)
        var = (var * self.uniform(0.7, 1.4, cout) + 1e-3).astype(np.float32)
        gamma, beta = self.uniform(0.5, 1.5, cout), self.uniform(-0.5, 0.5, cout)
        scale = (gamma / np.sqrt(var + self.eps)).astype(np.float32)
        shift = (beta - mean * scale).astype(np.float32)
        normalized = y * scale[:, None, None] + shift[:, None, None]
        if norm == "fold":
            y = self.node("Conv", [x, self.const(weight * scale[:, None, None, None], "weight"),
                                   self.const(shift, "bias")], normalized, **attrs)
        else:
            y = self.node("Conv", [x, self.const(weight, "weight")], y, **attrs)
            if norm == "bn":
                y = self.node("BatchNormalization", [y] + [self.const(p, "bn") for p in (gamma, beta, mean, var)],
                              normalized, epsilon=self.eps)
            elif norm == "muladd":
                y = self.binary("Mul", y, self.const(scale.reshape(cout, 1, 1), "scale"))
                y = self.binary("Add", y, self.const(shift.reshape(cout, 1, 1), "shift"))
            else:
                raise ValueError(f"unknown norm {norm!r}")
        return self.act(y, act)

    def act(self, x, kind):
        """Activations, by name; the suffixed ones are decomposed as exporters write them:
        *_div   torch, from hand-written h_swish modules: x * relu6(x + 3) / 6, relu6(x + 3) / 6
        *_mul   the same with * (1/6)
        *_keras Keras' hard_swish: x * (relu6(x + 3) * (1/6))"""
        if kind is None:
            return x
        if kind == "silu":
            return self.binary("Mul", x, self.act(x, "sigmoid"))
        value = ACTIVATIONS[kind.split("_")[0]](self.value[x])
        if kind in ("relu", "sigmoid"):
            return self.node(kind.capitalize(), [x], value)
        if kind == "relu6":
            return self.node("Clip", [x, self.scalar(0.0), self.scalar(6.0)], value)
        if kind == "hardswish":
            return self.node("HardSwish", [x], value)
        if kind == "hardsigmoid":
            return self.node("HardSigmoid", [x], value, alpha=1 / 6)
        shifted = self.binary("Add", x, self.scalar(3.0))
        relu6 = self.node("Clip", [shifted, self.scalar(0.0), self.scalar(6.0)], np.clip(self.value[shifted], 0, 6))
        if kind == "hardswish_div":
            return self.binary("Div", self.binary("Mul", x, relu6), self.scalar(6.0))
        if kind == "hardswish_keras":
            return self.binary("Mul", x, self.binary("Mul", relu6, self.scalar(1 / 6)))
        if kind == "hardsigmoid_div":
            return self.binary("Div", relu6, self.scalar(6.0))
        if kind == "hardsigmoid_mul":
            return self.binary("Mul", relu6, self.scalar(1 / 6))
        raise ValueError(f"unknown activation {kind!r}")

    def pad(self, x, pads, mode="constant", value=None):
        """Pad of (top, left, bottom, right) on H and W; pads as an int64 input (opset 11+)."""
        top, left, bottom, right = pads
        inputs = [x, self.ints([0, 0, top, left, 0, 0, bottom, right])]
        value = self.pad_value if value is None and mode == "constant" else value
        if value is not None:
            inputs.append(self.scalar(value))
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        padded = (np.pad(self.value[x], widths, constant_values=value or 0.0) if mode == "constant"
                  else np.pad(self.value[x], widths, mode=mode))
        return self.node("Pad", inputs, padded, mode=mode)

    def maxpool(self, x, k, stride, pads=0, ceil=False):
        _, h, w = self.shape(x)

        def out(size):
            span = size + 2 * pads - k
            n = (-(-span // stride) if ceil else span // stride) + 1
            # ceil_mode: the last window must start inside the input or its left padding.
            return n - 1 if ceil and (n - 1) * stride >= size + pads else n
        oh, ow = out(h), out(w)
        # -inf beyond the input, including the extra windows of ceil_mode.
        padded = np.pad(self.value[x], ((0, 0), (0, 0), (pads, max(0, (oh - 1) * stride + k - h - pads)),
                                        (pads, max(0, (ow - 1) * stride + k - w - pads))), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
        attrs = dict(ceil_mode=1) if ceil else {}
        return self.node("MaxPool", [x], windows[:, :, :oh, :ow].max(axis=(4, 5)), kernel_shape=[k, k],
                         pads=[pads] * 4, strides=[stride, stride], **attrs)

    def global_avg_pool(self, x):
        return self.node("GlobalAveragePool", [x], self.value[x].mean(axis=(2, 3), keepdims=True))

    def squeeze_excite(self, x, squeeze, act, gate):
        """GlobalAveragePool -> Conv 1x1 -> act -> Conv 1x1 -> gate -> Mul with the block tensor."""
        s = self.global_avg_pool(x)
        s = self.conv(s, squeeze, norm="bias", act=act)
        s = self.conv(s, self.channels(x), norm="bias", act=gate)
        # torchvision writes `scale * input`, Keras Multiply()([inputs, x]).
        return self.binary("Mul", x, s) if self.keras else self.binary("Mul", s, x)

    def flatten(self, x):
        value = self.value[x]
        return self.node("Flatten", [x], value.reshape(len(value), -1), axis=1)

    def squeeze(self, x, axes):
        """Squeeze's axes are an attribute before opset 13, an input from 13."""
        value = self.value[x].squeeze(tuple(axes))
        if self.opset >= 13:
            return self.node("Squeeze", [x, self.ints(axes)], value)
        return self.node("Squeeze", [x], value, axes=axes)

    def reduce_mean(self, x, axes):
        return self.node("ReduceMean", [x], self.value[x].mean(axis=tuple(axes)),
                         axes=axes, keepdims=0)

    def gemm(self, x, n, act=None):
        """torch's Linear: Gemm with the weight as [out, in] (transB=1) and a bias."""
        (c,) = self.shape(x)
        weight, y = self.unit_output_weight((n, c), lambda wt: self.value[x] @ wt.T)
        bias = self.uniform(-0.1, 0.1, n)
        y = self.node("Gemm", [x, self.const(weight, "weight"), self.const(bias, "bias")], y + bias,
                      alpha=1.0, beta=1.0, transB=1)
        return self.act(y, act)

    def dense(self, x, n):
        """Keras' Dense as tf2onnx writes it: MatMul with a [in, out] weight, then Add of the bias."""
        (c,) = self.shape(x)
        weight, y = self.unit_output_weight((n, c), lambda wt: self.value[x] @ wt.T)
        y = self.node("MatMul", [x, self.const(np.ascontiguousarray(weight.T), "weight")], y)
        return self.binary("Add", y, self.const(self.uniform(-0.1, 0.1, n), "bias"))

    def softmax(self, x):
        self.pre_softmax = x
        e = np.exp(self.value[x] - self.value[x].max(axis=-1, keepdims=True))
        return self.node("Softmax", [x], e / e.sum(axis=-1, keepdims=True), axis=-1)

    # --- The model --------------------------------------------------------------------

    def finish(self, y, output_name, metadata=None):
        """The model with `y` as its one output, renamed `output_name`; glimpse.* metadata when
        `metadata` is given (the name, size and layout are added here), none otherwise."""
        for node in self.nodes:
            node.input[:] = [output_name if i == y else i for i in node.input]
            node.output[:] = [output_name if o == y else o for o in node.output]
        self.value[output_name] = self.value[y]
        if self.pre_softmax == y:
            self.pre_softmax = output_name
        self.output = output_name
        self.output_dims = [self.input.type.tensor_type.shape.dim[0].dim_param or self.batch, *self.shape(y)]
        graph = helper.make_graph(
            self.nodes, self.name, [self.input],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, self.output_dims)],
            initializer=self.initializers)
        opset = [helper.make_opsetid("", self.opset)]
        producer, version = PRODUCERS[self.style]
        model = helper.make_model(graph, opset_imports=opset, producer_name=producer, producer_version=version)
        model.ir_version = helper.find_min_ir_version_for(opset)
        if metadata is not None:
            helper.set_model_props(model, {
                "glimpse.name": self.name, "glimpse.input_size": str(self.chw[1]), "glimpse.layout": self.layout,
                "glimpse.resize_ratio": "0.875", **metadata})
        self.model = model
        return self


# --- Shared architecture bodies -------------------------------------------------------

def torchvision_head(b, x):
    """avgpool -> flatten -> (Dropout, gone in eval) -> Linear."""
    return b.gemm(b.flatten(b.global_avg_pool(x)), CLASSES)


def keras_head(b, x, pool):
    """GlobalAveragePooling2D -> Dense(1000, softmax). tf2onnx writes the pooling as ReduceMean over
    H, W or as GlobalAveragePool + Squeeze, depending on what its optimizer could rewrite."""
    x = b.reduce_mean(x, [2, 3]) if pool == "reduce_mean" else b.squeeze(b.global_avg_pool(x), [2, 3])
    return b.softmax(b.dense(x, CLASSES))


# torchvision's inverted_residual_setting (Keras' block list is the same): expansion, channels,
# repeats, first stride.
MOBILENETV2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                      (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenetv2_body(b, x):
    # Keras' Conv1 is a stride-2 "same" conv (pads [0,0,1,1]), not ZeroPadding2D + "valid".
    x = b.conv(x, 32, 3, 2, pads="same" if b.keras else None, act="relu6")
    for t, c, n, s in MOBILENETV2_STAGES:
        for i in range(n):
            stride = s if i == 0 else 1
            cin = b.channels(x)
            y = b.conv(x, cin * t, act="relu6") if t != 1 else x
            y = b.conv(y, cin * t, 3, stride, depthwise=True, act="relu6")
            y = b.conv(y, c)
            x = b.binary("Add", x, y) if stride == 1 and cin == c else y
    return b.conv(x, 1280, act="relu6")


# torchvision's bneck_conf rows: input, kernel, expanded, output, squeeze-excite, activation, stride.
# Keras' MobileNetV3 stacks give the same channels (its expansions are these ratios).
MOBILENETV3_SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]
MOBILENETV3_LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]


def mobilenetv3_body(b, x, config, hardswish, hardsigmoid):
    """Stem, bnecks and the last 1x1 conv (6x the last bneck's channels); the head differs by exporter."""
    x = b.conv(x, 16, 3, 2, pads="same" if b.keras else None, act=hardswish)
    for cin, k, expanded, cout, se, nonlinearity, stride in config:
        act = "relu" if nonlinearity == "RE" else hardswish
        y = b.conv(x, expanded, act=act) if expanded != cin else x
        y = b.conv(y, expanded, k, stride, depthwise=True, act=act)
        if se:
            y = b.squeeze_excite(y, make_divisible(expanded // 4), "relu", hardsigmoid)
        y = b.conv(y, cout)
        x = b.binary("Add", y, x) if stride == 1 and cin == cout else y
    return b.conv(x, 6 * config[-1][3], act=hardswish)


# torchvision's MBConvConfig for B0 (Keras' DEFAULT_BLOCKS_ARGS is the same): expansion, kernel,
# first stride, input, output, repeats.
EFFICIENTNET_B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                   (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


def efficientnet_b0_body(b, x):
    """Stem, MBConv blocks (squeeze-excite to a quarter of the block's input channels) and the
    1280-channel 1x1 conv. SiLU is Sigmoid + Mul in both exporters."""
    x = b.conv(x, 32, 3, 2, act="silu")
    for expansion, k, s, cin, cout, n in EFFICIENTNET_B0:
        for i in range(n):
            stride, block_in = (s, cin) if i == 0 else (1, cout)
            y = b.conv(x, block_in * expansion, act="silu") if expansion != 1 else x
            y = b.conv(y, block_in * expansion, k, stride, depthwise=True, act="silu")
            y = b.squeeze_excite(y, max(1, block_in // 4), "silu", "sigmoid")
            y = b.conv(y, cout)
            # Stochastic depth and dropout are identities in eval.
            x = b.binary("Add", y, x) if stride == 1 and block_in == cout else y
    return b.conv(x, 1280, act="silu")


def resnet_body(b, x, blocks, bottleneck):
    """Stem, max pool and four stages of basic or bottleneck blocks; a 1x1 conv shortcut where
    the shape changes, Add then Relu."""
    if b.keras:
        # ZeroPadding2D(3) + "valid" 7x7, and ZeroPadding2D(1) + "valid" max pool (after the Relu,
        # so zeros pad as well as -inf would).
        x = b.conv(b.pad(x, (3, 3, 3, 3)), 64, 7, 2, pads="valid", act="relu")
        x = b.maxpool(b.pad(x, (1, 1, 1, 1)), 3, 2)
    else:
        x = b.maxpool(b.conv(x, 64, 7, 2, act="relu"), 3, 2, pads=1)
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            cout = width * 4 if bottleneck else width
            shortcut = x
            if stride != 1 or b.channels(x) != cout:
                shortcut = b.conv(x, cout, 1, stride, pads="valid")
            if bottleneck:
                # torchvision (ResNet v1.5) strides the 3x3 conv, Keras (v1) the first 1x1.
                first, middle = (stride, 1) if b.keras else (1, stride)
                y = b.conv(x, width, 1, first, pads="valid", act="relu")
                y = b.conv(y, width, 3, middle, act="relu")
                y = b.conv(y, cout)
            else:
                y = b.conv(b.conv(x, width, 3, stride, act="relu"), width, 3)
            # torch writes `out += identity`, Keras Add()([shortcut, x]).
            x = b.act(b.binary("Add", shortcut, y) if b.keras else b.binary("Add", y, shortcut), "relu")
    return x


# --- The zoo --------------------------------------------------------------------------

MODELS = {}


def zoo_model(build):
    MODELS[build.__name__] = build
    return build


@zoo_model
def mobilenetv2_pt():
    # Folded BatchNorm, ReLU6's bounds as Constant nodes.
    b = GraphBuilder("mobilenetv2_pt", "pytorch", 13, "input", norm="fold", constant_nodes=True)
    return b.finish(torchvision_head(b, mobilenetv2_body(b, b.x)), "output", TORCHVISION_PREPROCESSING)


@zoo_model
def mobilenetv3_small_pt():
    # An older export: HardSwish and HardSigmoid decomposed, BatchNorm not folded; the classifier's
    # first Linear written as a 1x1 conv on the pooled map, as hand-written MobileNetV3s do.
    b = GraphBuilder("mobilenetv3_small_pt", "pytorch", 13, "x", batch="N", eps=1e-3)
    x = mobilenetv3_body(b, b.x, MOBILENETV3_SMALL, "hardswish_div", "hardsigmoid_mul")
    x = b.conv(b.global_avg_pool(x), 1024, norm="bias", act="hardswish_div")
    return b.finish(b.gemm(b.flatten(x), CLASSES), "logits")


@zoo_model
def mobilenetv3_large_pt():
    b = GraphBuilder("mobilenetv3_large_pt", "pytorch", 17, "input", norm="fold", eps=1e-3)
    x = mobilenetv3_body(b, b.x, MOBILENETV3_LARGE, "hardswish", "hardsigmoid")
    x = b.gemm(b.flatten(b.global_avg_pool(x)), 1280, act="hardswish")
    return b.finish(b.gemm(x, CLASSES), "logits", TORCHVISION_PREPROCESSING)


@zoo_model
def resnet18_pt():
    # Older torch exports name the input "input.1" and the output by number.
    b = GraphBuilder("resnet18_pt", "pytorch", 14, "input.1", norm="bn")
    return b.finish(torchvision_head(b, resnet_body(b, b.x, (2, 2, 2, 2), bottleneck=False)), "191")


@zoo_model
def resnet50_pt():
    b = GraphBuilder("resnet50_pt", "pytorch", 17, "input", batch="batch_size", norm="fold")
    x = resnet_body(b, b.x, (3, 4, 6, 3), bottleneck=True)
    return b.finish(torchvision_head(b, x), "output", TORCHVISION_PREPROCESSING)


@zoo_model
def squeezenet11_pt():
    """SqueezeNet 1.1: no BatchNorm, convs with biases, ceil-mode max pools, fire modules that
    concatenate a 1x1 and a 3x3 expansion, and a conv classifier."""
    b = GraphBuilder("squeezenet11_pt", "pytorch", 13, "data", norm="bias")

    def fire(x, squeeze, expand):
        s = b.conv(x, squeeze, act="relu")
        e1, e3 = b.conv(s, expand, act="relu"), b.conv(s, expand, 3, act="relu")
        return b.node("Concat", [e1, e3], np.concatenate([b.value[e1], b.value[e3]], axis=1), axis=1)

    x = b.conv(b.x, 64, 3, 2, pads="valid", act="relu")
    for stage in ([(16, 64), (16, 64)], [(32, 128), (32, 128)], [(48, 192), (48, 192), (64, 256), (64, 256)]):
        x = b.maxpool(x, 3, 2, ceil=True)
        for squeeze, expand in stage:
            x = fire(x, squeeze, expand)
    # An eval-mode Dropout, as some exports keep it (an identity at inference).
    x = b.node("Dropout", [x, b.scalar(0.5)], b.value[x])
    x = b.conv(x, CLASSES, act="relu")
    return b.finish(b.flatten(b.global_avg_pool(x)), "output")


@zoo_model
def efficientnet_b0_pt():
    b = GraphBuilder("efficientnet_b0_pt", "pytorch", 15, "input", batch="N", norm="bn")
    return b.finish(torchvision_head(b, efficientnet_b0_body(b, b.x)), "logits", TORCHVISION_PREPROCESSING)


def mobilenetv2_keras(name, layout, metadata):
    # Same seed for both layouts: the same weights, so their goldens agree.
    b = GraphBuilder(name, "tf2onnx", 13, "input_1", batch="unk__615", layout=layout, norm="fold",
                     dw_norm="muladd", eps=1e-3, seed="mobilenetv2_tf")
    return b.finish(keras_head(b, mobilenetv2_body(b, b.x), "reduce_mean"), "predictions", metadata)


@zoo_model
def mobilenetv2_tf():
    return mobilenetv2_keras("mobilenetv2_tf", "NHWC", KERAS_MOBILENET_PREPROCESSING)


@zoo_model
def mobilenetv2_tf_nchw():
    # tf2onnx --inputs-as-nchw: the input is NCHW, so there is no leading Transpose.
    return mobilenetv2_keras("mobilenetv2_tf_nchw", "NCHW", None)


@zoo_model
def mobilenetv3_small_tf():
    b = GraphBuilder("mobilenetv3_small_tf", "tf2onnx", 17, "input_1", batch="unk__123", layout="NHWC",
                     norm="fold", dw_norm="muladd", eps=1e-3, pad_value=0.0)
    # include_preprocessing: Rescaling(1/127.5, offset=-1).
    x = b.binary("Add", b.binary("Mul", b.x, b.scalar(1 / 127.5)), b.scalar(-1.0))
    x = mobilenetv3_body(b, x, MOBILENETV3_SMALL, "hardswish_keras", "hardsigmoid_mul")
    # Keras' head: GlobalAveragePooling2D(keepdims) -> Conv2D 1024 -> hard_swish -> Conv2D 1000
    # ("Logits") -> Flatten (a Reshape to [-1, 1000]) -> softmax.
    x = b.conv(b.global_avg_pool(x), 1024, norm="bias", act="hardswish_keras")
    x = b.conv(x, CLASSES, norm="bias")
    x = b.node("Reshape", [x, b.ints([-1, CLASSES])], b.value[x].reshape(-1, CLASSES))
    return b.finish(b.softmax(x), "Predictions")


@zoo_model
def efficientnet_b0_tf():
    b = GraphBuilder("efficientnet_b0_tf", "tf2onnx", 11, "input_layer", batch="unk__1066", layout="NHWC",
                     norm="fold", dw_norm="muladd", eps=1e-3, pad_value=0.0)
    # Keras' EfficientNet carries its preprocessing: Rescaling(1/255), Normalization ((x - mean) /
    # sqrt(var)) and, for the ImageNet weights, Rescaling(1/sqrt(std)) (keras-team/keras: "the original
    # implementation uses (input - mean) / var"); per-channel [3,1,1] constants behind the Transpose.
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    x = b.binary("Mul", b.x, b.scalar(1 / 255))
    x = b.binary("Sub", x, b.const(mean.reshape(3, 1, 1)))
    x = b.binary("Div", x, b.const(std.reshape(3, 1, 1)))
    x = b.binary("Mul", x, b.const((1 / np.sqrt(std)).reshape(3, 1, 1)))
    x = efficientnet_b0_body(b, x)
    return b.finish(keras_head(b, x, "gap_squeeze"), "predictions", KERAS_EFFICIENTNET_PREPROCESSING)


@zoo_model
def resnet50_tf():
    # Keras' ResNet convs have biases and their BatchNorms fold into them; BN epsilon 1.001e-5.
    b = GraphBuilder("resnet50_tf", "tf2onnx", 12, "input_1", batch=1, layout="NHWC", norm="fold", eps=1.001e-5,
                     pad_value=0.0)
    return b.finish(keras_head(b, resnet_body(b, b.x, (3, 4, 6, 3), bottleneck=True), "reduce_mean"), "predictions")


def pad_model(name, mode, pads, value=None, stride=1):
    """Pad in a mode no conv padding can express, then a 3x3 "valid" conv, on a non-square input."""
    b = GraphBuilder(name, "pytorch", 13, "x", chw=(8, 17, 13), norm="bias")
    x = b.pad(b.x, pads, mode=mode, value=value)
    return b.finish(b.conv(x, 16, 3, stride, pads="valid"), "y")


@zoo_model
def pad_reflect():
    return pad_model("pad_reflect", "reflect", (1, 2, 2, 1))


@zoo_model
def pad_edge():
    return pad_model("pad_edge", "edge", (2, 1, 1, 3), stride=2)


@zoo_model
def pad_constant_nonzero():
    return pad_model("pad_constant_nonzero", "constant", (1, 0, 2, 1), value=0.5)


# --- Goldens, writing, reporting --------------------------------------------------------

def reference_session(model_bytes, optimized=False):
    options = ort.SessionOptions()
    # One thread and no graph rewrites for goldens: a fixed summation order, and the graph as
    # written (BatchNorm, Pad, Mul/Add not folded by ONNX Runtime either).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized
                                        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def golden_input(b, seed):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (1, *b.chw)).astype(np.float32)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if b.layout == "NHWC" else x


def check_logits(name, entry, logits):
    """Raises unless the logits are finite and spread within LOGITS_STD_RANGE (not an assert: -O drops those)."""
    std = float(np.std(logits))
    low, high = LOGITS_STD_RANGE
    if not np.all(np.isfinite(logits)) or not low <= std <= high:
        raise SystemExit(f"{name}/{entry}: logits std {std:.3g}, min {logits.min():.3g}, max {logits.max():.3g} "
                         f"(expected finite, std in [{low}, {high}]): the weight scaling is off")
    return std


def write_goldens(b):
    """Runs the goldens' inputs through ONNX Runtime and writes them; returns the logits' std."""
    probe = b.model
    if b.pre_softmax:
        # The spread check needs the logits before Softmax: the same graph with that tensor as a
        # second output (extra outputs do not change what ONNX Runtime computes for the first).
        probe = onnx.ModelProto()
        probe.CopyFrom(b.model)
        probe.graph.output.append(helper.make_tensor_value_info(b.pre_softmax, TensorProto.FLOAT, b.output_dims))
    session = reference_session(probe.SerializeToString())
    out = GOLDENS_DIR / b.name
    # Start empty, so entries dropped from the list do not linger.
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    entries, stds = [], []
    for entry, seed in GOLDEN_ENTRIES:
        x = golden_input(b, seed)
        outputs = session.run(None, {b.input.name: x})
        stds.append(check_logits(b.name, entry, outputs[-1].reshape(-1)))
        x.astype("<f4").tofile(out / f"{entry}.input.f32")
        outputs[0].reshape(-1).astype("<f4").tofile(out / f"{entry}.logits.f32")
        entries.append({"name": entry, "input": f"{entry}.input.f32", "logits": f"{entry}.logits.f32"})
    index = {"model": b.name, "input_shape": b.input_shape, "layout": b.layout, "style": b.style, "entries": entries}
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return statistics.median(stds)


def build(name):
    start = time.perf_counter()
    b = MODELS[name]()
    onnx.checker.check_model(b.model, full_check=True)
    std = write_goldens(b)
    path = ZOO_DIR / f"{name}.onnx"
    # The .onnx last and by rename: its being newer than this script means the goldens are complete.
    temporary = path.with_suffix(".onnx.tmp")
    temporary.write_bytes(b.model.SerializeToString())
    os.replace(temporary, path)
    params = sum(math.prod(t.dims) for t in b.model.graph.initializer)
    metadata = "glimpse.* metadata" if b.model.metadata_props else "no metadata"
    dims = [d.dim_param or d.dim_value for d in b.input.type.tensor_type.shape.dim]
    print(f"zoo: {name:22} {b.style:8} opset {b.opset}  {b.input.name} {dims} {b.layout}  "
          f"{params / 1e6:6.2f}M params  {metadata:18} logits std {std:6.3g}  "
          f"{time.perf_counter() - start:4.1f} s", flush=True)


def report(name):
    """Checks a written model and prints what it holds and how fast ONNX Runtime runs it."""
    path = ZOO_DIR / f"{name}.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    index = json.loads((GOLDENS_DIR / name / "index.json").read_text())
    graph = model.graph
    params = sum(math.prod(t.dims) for t in graph.initializer)
    ops = collections.Counter(node.op_type for node in graph.node)
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    session = reference_session(str(path), optimized=True)
    x = np.fromfile(GOLDENS_DIR / name / index["entries"][0]["input"], "<f4").reshape(index["input_shape"])
    feed = {graph.input[0].name: x}
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    logits = np.fromfile(GOLDENS_DIR / name / index["entries"][0]["logits"], "<f4")
    meta = {p.key: p.value for p in model.metadata_props}
    print(f"{name}: {index['style']}, opset {model.opset_import[0].version}, input {graph.input[0].name} {dims} "
          f"{index['layout']}, output {graph.output[0].name}, {params:,} params, "
          f"{'metadata ' + ','.join(sorted(meta)) if meta else 'no metadata'}\n"
          f"  ops: {', '.join(f'{op} {n}' for op, n in sorted(ops.items()))}\n"
          f"  golden '{index['entries'][0]['name']}': {logits.size} outputs, mean {logits.mean():.4g}, "
          f"std {logits.std():.4g}, min {logits.min():.4g}, max {logits.max():.4g}\n"
          f"  ONNX Runtime {ort.__version__}, 1 thread, ORT_ENABLE_ALL: median {statistics.median(times):.2f} ms "
          f"(min {min(times):.2f}) over 20 runs", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help=f"models to build (default: all): {', '.join(MODELS)}")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--report", action="store_true",
                        help="after building, check each model and print its ops, params and ORT latency")
    args = parser.parse_args()
    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(unknown)}; the zoo has {', '.join(MODELS)}")
    ZOO_DIR.mkdir(parents=True, exist_ok=True)
    script_time = Path(__file__).stat().st_mtime
    for name in args.models or MODELS:
        path = ZOO_DIR / f"{name}.onnx"
        if not args.force and path.exists() and path.stat().st_mtime > script_time:
            print(f"zoo: {name:22} up to date")
        else:
            build(name)
    if args.report:
        for name in args.models or MODELS:
            report(name)


if __name__ == "__main__":
    main()
