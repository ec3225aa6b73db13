"""Face-liveness check from the distribution of facial motion (patent CN108537131A).

The host-side pipeline: video reading, MTCNN front end, 68 landmarks, the OpenCV reference path
(``liveness.reference``, the twin of ``model_graph``), per-clip aggregation, report and CLI.
Importing this package imports neither TensorFlow nor OpenCV; its modules do as they need.
"""

__version__ = "0.1.0"
