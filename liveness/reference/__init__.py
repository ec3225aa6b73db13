"""The OpenCV reference path: the patent's S3-S5 with OpenCV calls, one module per stage.

This is the twin of ``model_graph``: the same stage names, argument order and conventions, so that
a parity test reads ``model_graph.<stage>(x)`` against ``liveness.reference.<stage>(x)``. It never
imports TensorFlow.
"""

from liveness.reference.check import PairEvidence, check_pair
from liveness.reference.decision import decide
from liveness.reference.flow import eye_flow, landmark_flow
from liveness.reference.histogram import direction_histogram
from liveness.reference.polar import cart_to_polar
from liveness.reference.score import chi_square_score

__all__ = ["PairEvidence", "cart_to_polar", "check_pair", "chi_square_score", "decide",
           "direction_histogram", "eye_flow", "landmark_flow"]
