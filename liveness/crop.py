"""Face crops: one square window per pair, placed from the first frame's landmarks.

Both frames of a pair are cut with the same window, so rigid motion of the face stays in the crop.
The window is an integer-aligned square of side ``crop_scale`` x the landmarks' larger extent,
centred on their bounding box; parts beyond the frame are filled by replicating the border. It is
resized to ``crop_size`` with ``cv2.INTER_AREA``, whose pixel-centre convention gives
``u = (x - x0 + 0.5) * scale - 0.5`` from frame ``x`` to crop ``u``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropWindow:
    """A square window of the frame: top-left ``(x0, y0)`` and ``side`` in pixels, ``size`` in the crop."""

    x0: int
    y0: int
    side: int
    size: int

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel."""
        return self.size / self.side

    @classmethod
    def around(cls, landmarks: np.ndarray, crop_scale: float, size: int) -> CropWindow:
        """The window for ``[68, 2]`` frame landmarks.

        >>> CropWindow.around(np.array([[10.0, 20.0], [50.0, 40.0]]), 1.5, 120)
        CropWindow(x0=0, y0=0, side=60, size=120)
        """
        lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
        side = max(8, int(round(crop_scale * float(max(hi - lo)))))
        centre = (lo + hi) / 2
        return cls(int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2)), side, size)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Frame ``(x, y)`` to crop ``(u, v)``, float32."""
        origin = np.array([self.x0, self.y0], np.float64)
        return ((np.asarray(points, np.float64) - origin + 0.5) * self.scale - 0.5).astype(np.float32)

    def resized(self, size: int) -> CropWindow:
        """The same window cut to ``size`` pixels."""
        return CropWindow(self.x0, self.y0, self.side, size)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Crop ``(u, v)`` back to frame ``(x, y)``, float32."""
        origin = np.array([self.x0, self.y0], np.float64)
        return ((np.asarray(points, np.float64) + 0.5) / self.scale - 0.5 + origin).astype(np.float32)

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The ``[size, size(, C)]`` uint8 crop of an ``[H, W(, C)]`` uint8 frame."""
        h, w = image.shape[:2]
        pad = max(0, -self.x0, -self.y0, self.x0 + self.side - w, self.y0 + self.side - h)
        if pad:
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        window = image[self.y0 + pad:self.y0 + pad + self.side,
                       self.x0 + pad:self.x0 + pad + self.side]
        return cv2.resize(window, (self.size, self.size), interpolation=cv2.INTER_AREA)
