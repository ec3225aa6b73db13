"""The LiteRT interpreter without TensorFlow: ``ai-edge-litert``, else the older ``tflite-runtime``."""

from __future__ import annotations

from pathlib import Path

from liveness.quiet import quiet_native_output


def make_interpreter(model_path: str | Path, threads: int | None = None, *, allocate: bool = True):
    """A LiteRT interpreter for ``model_path``, its tensors allocated unless ``allocate`` is False
    (for a model with dynamic input sizes, which needs ``resize_tensor_input`` first).

    Raises ``FileNotFoundError`` when the file is missing and ``ImportError`` naming the two
    packages when neither runtime is installed.
    """
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ImportError("no LiteRT runtime: pip install ai-edge-litert "
                              "(or the older tflite-runtime)") from None
    with quiet_native_output(stdout=False):   # LiteRT's "Created ... XNNPACK delegate" line
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        if allocate:
            interpreter.allocate_tensors()
    return interpreter
