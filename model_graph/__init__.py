"""The liveness check as TensorFlow ops, one module per stage; twin of ``liveness.reference``.

Stages: ``padding`` (borders), ``pyramid`` (pyrDown),
``lucas_kanade`` and ``farneback`` (the two flows), ``flow`` (the S3 stage), ``polar``,
``histogram``, ``score``, ``decision``, ``motion`` (noise, forward-backward filter, plane test),
``texture`` (MiniFASNet), ``median`` and ``aggregate`` (the cues' opinions and their fusion);
``check`` composes them and ``module.LivenessCheck`` is the exportable ``tf.Module``. Nothing here
imports cv2.
"""
