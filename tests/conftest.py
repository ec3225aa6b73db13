"""Shared fixtures: seeded textures, the synthetic clips, and the optional shared data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from liveness.paths import shared_data


def textured(size: int = 96, seed: int = 0) -> np.ndarray:
    """A ``[size, size]`` uint8 grey texture with structure at several scales (seeded)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size), np.float64)
    for cells, weight in ((4, 0.5), (12, 0.3), (size // 2, 0.2)):
        noise = rng.random((cells, cells))
        image += weight * cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    image = (image - image.min()) / (image.max() - image.min())
    return np.round(40 + 180 * image).astype(np.uint8)


def translate(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by ``(dx, dy)`` pixels (content at x goes to x + dx), bilinear."""
    matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float64)
    return cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


@pytest.fixture(scope="session")
def synthetic_clips() -> dict[str, np.ndarray]:
    from liveness.synthetic import synthetic_clip

    return {kind: synthetic_clip(kind, frames=30, seed=0) for kind in ("live", "photo", "screen")}


@pytest.fixture(scope="session")
def checker():
    from liveness.clip import ClipChecker
    from liveness.config import preset

    return ClipChecker(preset("default"))


@pytest.fixture(scope="session")
def shared():
    """The shared data folder; tests using it skip when it is absent."""
    path = shared_data()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """One export of the default preset (SavedModel version 3, both TFLite files, manifest)."""
    from export.exporter import export_all
    from liveness.config import preset

    return export_all(tmp_path_factory.mktemp("export"), preset("default"), version=3)
