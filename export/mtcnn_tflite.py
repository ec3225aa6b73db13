"""MTCNN's three networks (from the ``mtcnn`` package's Keras models) as TFLite files.

Each network is wrapped in a functional Keras model with an explicit input and converted with
``TFLiteConverter.from_keras_model`` (converting a Keras 3 model saved inside a ``tf.Module`` can
lose its weights; this path keeps them, and ``tests/test_export.py`` checks the values). P-Net
takes ``[1, H, W, 3]`` of any size (stored as 12 x 12; resize the input), R-Net ``[N, 24, 24, 3]``,
O-Net ``[N, 48, 48, 3]``; inputs are RGB normalised as ``(x - 127.5) / 128``.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

#: file name -> (stage index in mtcnn.MTCNN().stages, input shape without the batch axis, batch)
NETWORKS = {
    # P-Net is fully convolutional: stored at its 12 x 12 cell so the file allocates as shipped,
    # and resized to each pyramid level before use (``resize_tensor_input``).
    "mtcnn_pnet.tflite": (0, (12, 12, 3), 1),
    "mtcnn_rnet.tflite": (1, (24, 24, 3), None),
    "mtcnn_onet.tflite": (2, (48, 48, 3), None),
}


def convert_mtcnn(out_dir: Path) -> list[Path]:
    """Write the three MTCNN TFLite files into ``out_dir``; returns their paths."""
    import keras
    from mtcnn import MTCNN

    stages = MTCNN().stages
    written = []
    for name, (index, shape, batch) in NETWORKS.items():
        network = stages[index]._model
        inputs = keras.Input(shape=shape, batch_size=batch, name="image")
        converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, network(inputs)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        path = out_dir / name
        path.write_bytes(converter.convert())
        written.append(path)
    return written


def main() -> None:
    """``python -m export.mtcnn_tflite [--out liveness/data/mtcnn]``: rewrite the shipped files."""
    import argparse

    from liveness.paths import REPO_ROOT
    from liveness.quiet import quiet_native_output

    parser = argparse.ArgumentParser(description="MTCNN's networks as TFLite files")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "liveness" / "data" / "mtcnn")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with quiet_native_output():
        paths = convert_mtcnn(args.out)
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
