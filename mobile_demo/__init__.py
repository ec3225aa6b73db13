"""The whole liveness pipeline on LiteRT alone: the detector (MTCNN or BlazeFace), the landmarks
(the template in numpy, or the face mesh), ``liveness_pair.tflite`` per pair and
``texture.tflite`` per frame.

No TensorFlow at run time: only the LiteRT interpreter (``ai-edge-litert``, else
``tflite-runtime``), numpy, and OpenCV for video I/O, drawing and image resampling. It runs the
host pipeline's own loop (``liveness.clip.ClipChecker``) with LiteRT parts plugged in, so the
detection policy, tracking, crops and aggregation are the same code as ``liveness check``.
"""
