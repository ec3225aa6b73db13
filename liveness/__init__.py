"""Face-liveness check: a texture network (MiniFASNet) and motion that fails closed, with the
patent's chi-square score (CN108537131A) reported.

The host-side pipeline: video reading, face detection (MTCNN or BlazeFace on LiteRT), 68
landmarks, the OpenCV reference path (``liveness.reference``, the twin of ``model_graph``), the
texture cue, per-clip fusion, report and CLI.
Importing this package imports neither TensorFlow nor OpenCV; its modules do as they need.
"""

__version__ = "0.1.0"
