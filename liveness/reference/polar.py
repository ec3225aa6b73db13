"""Stage S4a: flow vectors to magnitude and direction with ``cv2.cartToPolar``."""

from __future__ import annotations

import cv2
import numpy as np


def cart_to_polar(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude (pixels) and direction (radians in ``[0, 2*pi)``, SPEC §2) of ``[..., 2]`` flow.

    Returns two float32 arrays of shape ``flow.shape[:-1]``.

    >>> mag, ang = cart_to_polar(np.array([[3.0, 4.0], [0.0, -1.0]], np.float32))
    >>> [round(float(m), 3) for m in mag], [round(float(np.degrees(a)), 1) for a in ang]
    ([5.0, 1.0], [53.1, 270.0])
    """
    vectors = np.ascontiguousarray(flow, dtype=np.float32)
    dx = vectors[..., 0].reshape(-1, 1)
    dy = vectors[..., 1].reshape(-1, 1)
    magnitude, angle = cv2.cartToPolar(dx, dy, angleInDegrees=False)
    shape = vectors.shape[:-1]
    return magnitude.reshape(shape), np.mod(angle.reshape(shape), np.float32(2 * np.pi))
