"""The liveness check as TensorFlow ops, one module per stage; twin of ``liveness.reference``.

Stages: ``sampling`` (bilinear sampler, dense warp), ``pyramid`` (pyrDown, Scharr),
``lucas_kanade`` and ``farneback`` (the two flows), ``flow`` (the S3 stage), ``polar``,
``histogram``, ``score``, ``decision``, ``planarity`` (the second cue), ``median`` and
``aggregate`` (the clip rule); ``check`` composes them and ``module.LivenessCheck`` is the
exportable ``tf.Module``. Nothing here imports cv2.
"""
