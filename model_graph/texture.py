"""The texture cue (SPEC §7): MiniFASNetV2 and MiniFASNetV1SE as Keras models, inference only.

Upstream's networks (minivision-ai/Silent-Face-Anti-Spoofing, ``src/model_lib/MiniFASNet.py``,
Apache-2.0) rebuilt as functional Keras models with the same layer structure; the weights are the
project's conversion of upstream's checkpoints (``scripts/convert_silent_face.py`` ->
``liveness/data/silent_face/*.npz``). Batch norm is folded into the convolution or dense layer
before it (inference mode), so every layer holds a kernel and a bias.

Input of each network: ``[B, 80, 80, 3]`` float32 **BGR**, 0..255, no normalisation (as upstream);
output: ``[B, 3]`` logits, class 1 = real face. :meth:`FrozenTexture.real_probability` takes the
two patch batches (scale 2.7 for V2, 4.0 for V1SE; ``liveness.texture_patches`` cuts them) and returns the
mean of the two softmax class-1 probabilities, ``[B]`` in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

PATCH_PX = 80
BN_EPSILON = 1e-5
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "liveness" / "data" / "silent_face"

#: Channel plans of upstream's ``keep_dict`` ('1.8M' for V1SE, '1.8M_' for V2).
_KEEP = {
    "v1se": [32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231, 231, 128,
             154, 154, 128, 52, 52, 128, 26, 26, 128, 52, 52, 128, 26, 26, 128, 26, 26, 128, 308,
             308, 128, 26, 26, 128, 26, 26, 128, 512, 512],
    "v2": [32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231, 231, 128,
           231, 231, 128, 52, 52, 128, 26, 26, 128, 77, 77, 128, 26, 26, 128, 26, 26, 128, 308,
           308, 128, 26, 26, 128, 26, 26, 128, 512, 512],
}
#: Network per patch scale, in the order :func:`real_probability` takes the patches.
MODELS = (("v2", 2.7), ("v1se", 4.0))


def minifasnet(variant: str, weights: Path | None = None) -> keras.Model:
    """MiniFASNet ``v2`` or ``v1se`` with the converted weights (``WEIGHTS_DIR`` by default).

    Input ``[B, 80, 80, 3]`` float32 BGR 0..255; output ``[B, 3]`` logits (class 1 = real).
    Raises ``ValueError`` for an unknown variant, ``FileNotFoundError`` when the weights are missing.
    """
    if variant not in _KEEP:
        raise ValueError(f"unknown MiniFASNet variant {variant!r}; valid: {', '.join(_KEEP)}")
    path = weights or WEIGHTS_DIR / f"minifasnet_{variant}.npz"
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} not found: run scripts/convert_silent_face.py")
    builder = _Builder(dict(np.load(path)), se=variant == "v1se")
    model = builder.build(_KEEP[variant], f"minifasnet_{variant}")
    unused = set(builder.state) - builder.used - {k for k in builder.state if k.endswith("num_batches_tracked")}
    if unused:
        raise ValueError(f"{path}: weights not used by the model: {sorted(unused)[:5]}")
    return model


class FrozenTexture:
    """The two networks for use inside a traced graph: :meth:`real_probability` runs them
    statelessly with their weights as graph constants. (A Keras 3 model's variables captured by a
    ``tf.Module`` do not survive TFLite conversion — the file computes NaN — while constants do,
    and an inference-only graph needs no variables.) A plain object, so a ``tf.Module`` holding it
    tracks no variables."""

    def __init__(self, weights_dir: Path | None = None) -> None:
        folder = weights_dir or WEIGHTS_DIR
        self.models = tuple(minifasnet(v, folder / f"minifasnet_{v}.npz") for v, _scale in MODELS)
        self.weights = [([v.numpy() for v in m.trainable_variables],
                         [v.numpy() for v in m.non_trainable_variables]) for m in self.models]

    def real_probability(self, patches: tf.Tensor) -> tf.Tensor:
        """``[B]`` float32 real-face probability from ``patches [B, 2, 80, 80, 3]`` (BGR, 0..255;
        patch 0 at scale 2.7 for V2, patch 1 at scale 4.0 for V1SE): the mean of the two softmax
        class-1 probabilities."""
        patches = tf.cast(patches, tf.float32)
        probs = []
        for i, (model, (weights, fixed)) in enumerate(zip(self.models, self.weights)):
            logits, _ = model.stateless_call([tf.constant(w) for w in weights],
                                             [tf.constant(w) for w in fixed], patches[:, i],
                                             training=False)
            probs.append(tf.nn.softmax(logits)[:, 1])
        return (probs[0] + probs[1]) * 0.5


class _Builder:
    """Lays out upstream's modules as Keras layers named by their upstream paths and assigns the
    folded weights as each layer is made (so every upstream tensor is used exactly once)."""

    def __init__(self, state: dict[str, np.ndarray], *, se: bool) -> None:
        self.state, self.se, self.used = state, se, set()

    def take(self, name: str) -> np.ndarray:
        if name in self.used:
            raise ValueError(f"weight {name} assigned twice")
        self.used.add(name)
        return self.state[name].astype(np.float32)

    def folded(self, path: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        """Upstream conv/linear weight of ``path`` with the batch norm ``bn`` folded in."""
        weight = self.take(f"{path}.weight")
        gamma, beta = self.take(f"{bn}.weight"), self.take(f"{bn}.bias")
        mean, var = self.take(f"{bn}.running_mean"), self.take(f"{bn}.running_var")
        scale = gamma / np.sqrt(var + BN_EPSILON)
        weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        return weight, beta - mean * scale

    def conv(self, x, path: str, out: int, kernel: int, stride: int, pad: int, *,
             depthwise: bool = False, prelu: bool = True, bn: str = "bn", conv: str = "conv"):
        """Conv (or depthwise conv) + folded batch norm (+ PReLU): upstream's Conv_block /
        Linear_block, or the SE module's 1x1 layers."""
        weight, bias = self.folded(f"{path}.{conv}", f"{path}.{bn}")
        if pad:
            x = keras.layers.ZeroPadding2D(pad, name=f"{path}.pad")(x)
        if depthwise:
            layer = keras.layers.DepthwiseConv2D(kernel, stride, name=f"{path}.{conv}")
            layer.build(x.shape)
            layer.set_weights([weight.transpose(2, 3, 0, 1), bias])
        else:
            layer = keras.layers.Conv2D(out, kernel, stride, name=f"{path}.{conv}")
            layer.build(x.shape)
            layer.set_weights([weight.transpose(2, 3, 1, 0), bias])
        x = layer(x)
        if prelu:
            act = keras.layers.PReLU(shared_axes=[1, 2], name=f"{path}.prelu")
            act.build(x.shape)
            act.set_weights([self.take(f"{path}.prelu.weight").reshape(1, 1, -1)])
            x = act(x)
        return x

    def depth_wise(self, x, path: str, c: tuple[int, int, int], stride: int, residual: bool,
                   se: bool = False):
        """Upstream's Depth_Wise (and Depth_Wise_SE): 1x1 expand, 3x3 depthwise, 1x1 project."""
        y = self.conv(x, f"{path}.conv", c[0], 1, 1, 0)
        y = self.conv(y, f"{path}.conv_dw", c[1], 3, stride, 1, depthwise=True)
        y = self.conv(y, f"{path}.project", c[2], 1, 1, 0, prelu=False)
        if not residual:
            return y
        if se:
            s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{path}.se_module.pool")(y)
            s = self.conv(s, f"{path}.se_module", c[2] // 4, 1, 1, 0, prelu=False, conv="fc1", bn="bn1")
            s = keras.layers.ReLU(name=f"{path}.se_module.relu")(s)
            s = self.conv(s, f"{path}.se_module", c[2], 1, 1, 0, prelu=False, conv="fc2", bn="bn2")
            s = keras.layers.Activation("sigmoid", name=f"{path}.se_module.sigmoid")(s)
            y = keras.layers.Multiply(name=f"{path}.se_module.scale")([y, s])
        return keras.layers.Add(name=f"{path}.add")([x, y])

    def residual(self, x, path: str, keep: list[int], first: int, blocks: int):
        for i in range(blocks):
            k = first + 3 * i
            x = self.depth_wise(x, f"{path}.model.{i}", (keep[k + 1], keep[k + 2], keep[k + 3]),
                                1, True, se=self.se and i == blocks - 1)
        return x

    def build(self, keep: list[int], name: str) -> keras.Model:
        inputs = keras.Input((PATCH_PX, PATCH_PX, 3), name="bgr_patch")
        x = self.conv(inputs, "conv1", keep[0], 3, 2, 1)
        x = self.conv(x, "conv2_dw", keep[1], 3, 1, 1, depthwise=True)
        x = self.depth_wise(x, "conv_23", (keep[2], keep[3], keep[4]), 2, False)
        x = self.residual(x, "conv_3", keep, 4, 4)
        x = self.depth_wise(x, "conv_34", (keep[17], keep[18], keep[19]), 2, False)
        x = self.residual(x, "conv_4", keep, 19, 6)
        x = self.depth_wise(x, "conv_45", (keep[38], keep[39], keep[40]), 2, False)
        x = self.residual(x, "conv_5", keep, 40, 2)
        x = self.conv(x, "conv_6_sep", keep[47], 1, 1, 0)
        x = self.conv(x, "conv_6_dw", keep[48], 5, 1, 0, depthwise=True, prelu=False)
        x = keras.layers.Flatten(name="conv_6_flatten")(x)
        weight, bias = self.folded("linear", "bn")
        linear = keras.layers.Dense(weight.shape[0], name="linear")
        linear.build(x.shape)
        linear.set_weights([weight.T, bias])
        x = linear(x)
        prob = keras.layers.Dense(3, use_bias=False, name="prob")
        prob.build(x.shape)
        prob.set_weights([self.take("prob.weight").T])
        return keras.Model(inputs, prob(x), name=name)


def texture_model(weights_dir: Path | None = None) -> keras.Model:
    """Both networks as one Keras model: input ``patches [B, 2, 80, 80, 3]`` (float32 BGR 0..255;
    scale 2.7 then 4.0), output ``real [B]`` (the real-face probability)."""
    folder = weights_dir or WEIGHTS_DIR
    nets = tuple(minifasnet(v, folder / f"minifasnet_{v}.npz") for v, _scale in MODELS)
    patches = keras.Input((2, PATCH_PX, PATCH_PX, 3), name="patches")
    probs = [keras.layers.Softmax(name=f"{net.name}_softmax")(net(patches[:, i])) for i, net in enumerate(nets)]
    real = keras.layers.Lambda(lambda p: (p[0][:, 1] + p[1][:, 1]) * 0.5, name="real")(probs)
    return keras.Model(patches, real, name="texture")
