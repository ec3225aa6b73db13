"""Synthetic clips from a real face still (scikit-image's ``astronaut``), for the demo and tests.

- ``photo``: the still moved as one flat plane, as a hand-held print or phone screen would move:
  a homography per frame from hand tremor (random-walk shift), slow roll and perspective tilt,
  plus motion blur along the frame's motion and sensor noise.
- ``screen``: the still shown on a phone held up to the camera: a black bezel around a smaller
  copy of the frame, moved as one plane with the same hand motion, over a still background, with
  a glare spot that stays where the light is (it does not move with the screen).
- ``live``: the same face with non-rigid motion: a small head turn whose displacement grows with
  depth (nose more than cheeks, background still: parallax), blinks, eye saccades and mouth motion,
  with the same sensor noise and a little camera tremor.

What they can show: that each stage and the whole pipeline respond to coherent versus incoherent
motion as designed. What they cannot show: accuracy on real faces, cameras and attacks; their
motion model is ours, so a method tuned on them would only learn that model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from skimage import data

ClipKind = Literal["live", "photo", "screen"]
KINDS: tuple[str, ...] = ("live", "photo", "screen")

FRAME_SIZE = (640, 480)
_SCALE = 1.6  # astronaut pixels -> frame pixels; the face is then about 130 px wide
_ORIGIN = (24.0, 0.0)  # astronaut pixel at the frame's top-left
# Face parts in astronaut pixels, from MTCNN's keypoints on the still (box 182,64 - 265,171).
_EYES = ((204.0, 100.0), (245.0, 102.0))
_NOSE = (224.0, 126.0)
_MOUTH = (223.0, 140.0)
_FACE_CENTRE, _FACE_RADII = (224.0, 118.0), (46.0, 60.0)


def base_frame() -> np.ndarray:
    """The still as a ``[480, 640, 3]`` uint8 RGB frame."""
    matrix = np.array([[_SCALE, 0, -_SCALE * _ORIGIN[0]], [0, _SCALE, -_SCALE * _ORIGIN[1]]])
    return cv2.warpAffine(data.astronaut(), matrix, FRAME_SIZE, flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT_101)


def synthetic_clip(kind: ClipKind, frames: int = 40, seed: int = 0) -> np.ndarray:
    """A ``[frames, 480, 640, 3]`` uint8 RGB clip of the given kind (``live``, ``photo``, ``screen``).

    >>> clip = synthetic_clip("photo", frames=3)
    >>> clip.shape, clip.dtype.name
    ((3, 480, 640, 3), 'uint8')
    """
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic clip kind {kind!r}; valid: {', '.join(KINDS)}")
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    rng = np.random.default_rng(seed)
    base = base_frame()
    render = {"photo": _photo_frames, "screen": _screen_frames, "live": _live_frames}[kind]
    out = []
    for frame, shift in render(base, frames, rng):
        frame = _motion_blur(frame, shift)
        noise = rng.normal(0.0, 2.0, frame.shape)
        out.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return np.stack(out)


def _to_frame(point: tuple[float, float]) -> np.ndarray:
    return (np.asarray(point) - _ORIGIN) * _SCALE


def _hand_held(frames: int, rng: np.random.Generator, centre: np.ndarray):
    """Yield ``(homography, shift)`` per frame: a plane held in a hand, turning about ``centre``
    (random-walk tremor, slow roll, perspective tilt about the vertical axis, slight zoom)."""
    w, _h = FRAME_SIZE
    offset = np.zeros(2)
    previous = np.zeros(2)
    for t in range(frames):
        offset = offset + rng.normal(0.0, 1.2, 2)  # hand tremor, pixels per frame
        roll = np.radians(1.5 * np.sin(2 * np.pi * t / 37))
        tilt = np.radians(6.0 * np.sin(2 * np.pi * t / 29))  # plane turning about its vertical axis
        scale = 1.0 + 0.02 * np.sin(2 * np.pi * t / 23)
        to_centre = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
        rotate = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0],
                           [0, 0, 1]])
        perspective = np.array([[scale, 0, 0], [0, scale, 0], [np.sin(tilt) / w, 0, 1]])
        back = np.array([[1, 0, centre[0] + offset[0]], [0, 1, centre[1] + offset[1]], [0, 0, 1]])
        yield back @ perspective @ rotate @ to_centre, offset - previous
        previous = offset


def _photo_frames(base: np.ndarray, frames: int, rng: np.random.Generator):
    """Yield ``(frame, shift)``: the whole still under a homography per frame."""
    size = FRAME_SIZE
    for homography, shift in _hand_held(frames, rng, _to_frame(_FACE_CENTRE)):
        frame = cv2.warpPerspective(base, homography, size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT_101).astype(np.float64)
        yield frame, shift


def _screen_frames(base: np.ndarray, frames: int, rng: np.random.Generator):
    """Yield ``(frame, shift)``: the still on a bezelled screen moved by hand over a still scene."""
    w, h = FRAME_SIZE
    shown, bezel = 0.7, 14
    inner = cv2.resize(base, (int(w * shown), int(h * shown)), interpolation=cv2.INTER_AREA)
    device = cv2.copyMakeBorder(inner, bezel, bezel, bezel, bezel, cv2.BORDER_CONSTANT,
                                value=(12, 12, 14))
    place = np.array([[1, 0, (w - device.shape[1]) / 2], [0, 1, (h - device.shape[0]) / 2],
                      [0, 0, 1]])
    scene = cv2.GaussianBlur(cv2.resize(data.coffee(), FRAME_SIZE), (0, 0), 3).astype(np.float64)
    ys, xs = np.mgrid[0:h, 0:w]
    glare = 70.0 * np.exp(-(((xs - 0.62 * w) / 60.0) ** 2 + ((ys - 0.3 * h) / 35.0) ** 2))
    centre = place[:2, :2] @ ((_to_frame(_FACE_CENTRE) - (w, h) / np.float64(2)) * shown
                              + (device.shape[1] / 2, device.shape[0] / 2)) + place[:2, 2]
    ones = np.ones(device.shape[:2], np.float32)
    for homography, shift in _hand_held(frames, rng, centre):
        full = homography @ place
        screen = cv2.warpPerspective(device, full, FRAME_SIZE, flags=cv2.INTER_LINEAR)
        cover = cv2.warpPerspective(ones, full, FRAME_SIZE, flags=cv2.INTER_LINEAR)[..., None]
        frame = screen * cover + scene * (1 - cover) + (glare * cover[..., 0])[..., None]
        yield frame, shift


def _live_frames(base: np.ndarray, frames: int, rng: np.random.Generator):
    """Yield ``(frame, shift)``: the face deformed non-rigidly, the background still."""
    w, h = FRAME_SIZE
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    centre, radii = _to_frame(_FACE_CENTRE), np.asarray(_FACE_RADII) * _SCALE
    # Depth of a face-shaped ellipsoid (1 at the centre, 0 at its rim), bumped at the nose.
    r2 = ((xs - centre[0]) / radii[0]) ** 2 + ((ys - centre[1]) / radii[1]) ** 2
    depth = np.sqrt(np.clip(1 - r2, 0, None)) + 0.6 * _bump(xs, ys, _to_frame(_NOSE), 14 * _SCALE)
    eyes = [_to_frame(e) for e in _EYES]
    eye_weight = [_bump(xs, ys, e, 6 * _SCALE) for e in eyes]
    lid_weight = [_bump(xs, ys, e - (0, 5 * _SCALE), 7 * _SCALE) for e in eyes]
    mouth = _to_frame(_MOUTH)
    mouth_weight = _bump(xs, ys, mouth, 14 * _SCALE) * np.sign(ys - mouth[1])
    gaze = np.zeros(2)
    camera = np.zeros(2)
    previous = np.zeros(2)
    for t in range(frames):
        yaw = 6.0 * np.sin(2 * np.pi * t / 31)  # pixels at the nose
        nod = 2.5 * np.sin(2 * np.pi * t / 43)
        if rng.random() < 0.3:  # a saccade: the eyes jump together
            gaze = rng.normal(0.0, 1.5, 2)
        blink = 4.0 * _SCALE * max(0.0, np.sin(2 * np.pi * t / 17)) ** 4
        mouth_open = 2.0 * _SCALE * (0.5 + 0.5 * np.sin(2 * np.pi * t / 13))
        camera = 0.6 * camera + rng.normal(0.0, 0.3, 2)
        dx = yaw * depth + camera[0] + sum(gaze[0] * e for e in eye_weight)
        dy = (nod * depth + camera[1] + sum(gaze[1] * e for e in eye_weight)
              + sum(blink * lid for lid in lid_weight) + mouth_open * mouth_weight)
        frame = cv2.remap(base, (xs - dx).astype(np.float32), (ys - dy).astype(np.float32),
                          cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101).astype(np.float64)
        yield frame, camera - previous
        previous = camera


def _bump(xs: np.ndarray, ys: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2))


def _motion_blur(frame: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Blur along the frame-to-frame ``shift`` (pixels), as a moving hand or head smears."""
    length = int(round(float(np.linalg.norm(shift))))
    if length < 2:
        return frame
    kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    direction = shift / np.linalg.norm(shift)
    for s in np.linspace(-length / 2, length / 2, 2 * length + 1):
        x, y = np.round(length + s * direction).astype(int)
        kernel[y, x] = 1.0
    return cv2.filter2D(frame, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT_101)


def write_manifest(folder: Path, seeds: tuple[int, ...] = (0,), frames: int = 40) -> Path:
    """Write every kind's clip per seed as MJPG AVI files plus a ``manifest.csv`` shaped like the
    shared one (``photo``: attack type ``print``, ``screen``: ``replay_screen``; the seed is the
    subject) into ``folder``; returns the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    attack_types = {"live": "", "photo": "print", "screen": "replay_screen"}
    rows = ["file,label,attack_type,subject"]
    for seed in seeds:
        for kind in KINDS:
            name = f"{kind}_{seed}.avi"
            writer = cv2.VideoWriter(str(folder / name), cv2.VideoWriter_fourcc(*"MJPG"), 30,
                                     FRAME_SIZE)
            for frame in synthetic_clip(kind, frames=frames, seed=seed):
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()
            label = "live" if kind == "live" else "attack"
            rows.append(f"{name},{label},{attack_types[kind]},seed{seed}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest
