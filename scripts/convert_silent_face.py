"""Convert the Silent-Face MiniFASNet checkpoints (legacy PyTorch ``.pth``) to numpy ``.npz``.

The legacy (pre-1.6) ``torch.save`` format is a run of pickles followed by raw storages: magic
number, protocol version, system info, the state dict (tensors refer to storages by persistent id),
the list of storage keys, then per key an int64 element count and the little-endian bytes. A
pickle can run code when loaded, so the state dict is read with an unpickler that accepts only the
three names a weights file needs (``OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the
storage types) and builds plain numpy arrays from them; anything else is refused. No torch.

Writes ``liveness/data/silent_face/{minifasnet_v2,minifasnet_v1se}.npz`` (the state dict's arrays
under their upstream names, ``module.`` prefix dropped), ``texture.tflite`` (both networks for the
host's LiteRT scorer, ``liveness.texture``) and ``PROVENANCE.json`` (source repository
and commit, md5 of each input, what was done).

    python scripts/convert_silent_face.py [--models ../shared/models/silent_face] [--out DIR]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
SOURCE = {"repository": "minivision-ai/Silent-Face-Anti-Spoofing",
          "commit": "b6d5f04ad78778917853b25c778acef6d5626d15",
          "path": "resources/anti_spoof_models/", "licence": "Apache-2.0",
          "copyright": "Copyright 2020 Minivision"}
#: Input checkpoint -> (output name, md5 the shared README gives for it).
CHECKPOINTS = {
    "2.7_80x80_MiniFASNetV2.pth": ("minifasnet_v2", "a699bb3d549b6fb9c3a2caa1c058fb99"),
    "4_0_0_80x80_MiniFASNetV1SE.pth": ("minifasnet_v1se", "0080f2a9968246ed59067bd0f5fc49e4"),
}
_STORAGE_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
                   "HalfStorage": np.float16, "DoubleStorage": np.float64}


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: type
    size: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, offset, shape, stride, *_ignored):
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _WeightsUnpickler(pickle.Unpickler):
    """Accepts only what a state dict of tensors is made of; refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing {module}.{name}: not part of a weights file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, size, _view = pid
        if kind != "storage" or storage_type not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return _Storage(str(key), _STORAGE_DTYPES[storage_type], int(size))


def read_legacy_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The state dict of a legacy ``torch.save`` file as ``{name: float32/int64 array}``.

    Raises ``ValueError`` when the file is not in that format or holds anything but tensors.
    """
    with path.open("rb") as stream:
        if _WeightsUnpickler(stream).load() != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy (pre-1.6) torch.save file")
        _WeightsUnpickler(stream).load()                 # protocol version
        _WeightsUnpickler(stream).load()                 # system info
        state = _WeightsUnpickler(stream).load()
        keys = _WeightsUnpickler(stream).load()
        raw = {}
        for key in keys:
            (count,) = struct.unpack("<q", stream.read(8))
            storages = {ref.storage.key: ref.storage for ref in state.values()}
            dtype = np.dtype(storages[key].dtype).newbyteorder("<")
            raw[key] = np.frombuffer(stream.read(count * dtype.itemsize), dtype)
    arrays = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise ValueError(f"{path}: entry {name!r} is not a tensor")
        itemsize = raw[ref.storage.key].itemsize
        view = np.lib.stride_tricks.as_strided(
            raw[ref.storage.key][ref.offset:], ref.shape, [s * itemsize for s in ref.stride])
        arrays[name.removeprefix("module.")] = np.array(view)
    return arrays


def texture_tflite(weights_dir: Path) -> bytes:
    """The two networks as one TFLite file (built-in ops only) for the host's LiteRT scorer."""
    import sys

    sys.path.insert(0, str(REPO_ROOT))
    import tensorflow as tf

    from model_graph.texture import texture_model

    converter = tf.lite.TFLiteConverter.from_keras_model(texture_model(weights_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def run(models: Path, out: Path) -> Path:
    """Convert both checkpoints in ``models`` into ``out``; returns the provenance file's path."""
    out.mkdir(parents=True, exist_ok=True)
    record = {"source": SOURCE, "converted_by": "scripts/convert_silent_face.py",
              "note": "Converted from the upstream PyTorch checkpoints to numpy arrays under their "
                      "upstream names (values unchanged, 'module.' prefix dropped).", "files": {}}
    for file, (name, expected_md5) in CHECKPOINTS.items():
        path = models / file
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (expected the shared silent_face folder)")
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        if md5 != expected_md5:
            raise ValueError(f"{path}: md5 {md5}, expected {expected_md5} (another file?)")
        arrays = read_legacy_checkpoint(path)
        target = out / f"{name}.npz"
        np.savez_compressed(target, **arrays)
        record["files"][target.name] = {"input": file, "input_md5": md5,
                                        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                                        "arrays": len(arrays)}
    tflite = out / "texture.tflite"
    tflite.write_bytes(texture_tflite(out))
    record["files"][tflite.name] = {"from": "the two .npz files through model_graph.texture",
                                    "sha256": hashlib.sha256(tflite.read_bytes()).hexdigest()}
    provenance = out / "PROVENANCE.json"
    provenance.write_text(json.dumps(record, indent=1) + "\n")
    return provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=REPO_ROOT.parent / "shared" / "models" / "silent_face")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "liveness" / "data" / "silent_face")
    args = parser.parse_args()
    print(f"wrote {run(args.models, args.out)}")


if __name__ == "__main__":
    main()
