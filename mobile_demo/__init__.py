"""The whole liveness pipeline on LiteRT alone: MTCNN as TFLite, landmarks in numpy, the check.

No TensorFlow at run time: only the LiteRT interpreter (``ai-edge-litert``, else
``tflite-runtime``), numpy, and OpenCV for video I/O, drawing and image resampling. It runs the
host pipeline's own loop (``liveness.clip.ClipChecker``) with LiteRT parts plugged in, so the
detection policy, tracking, crops and aggregation are the same code as ``liveness check``.
"""
