"""Per-clip check on the OpenCV path: detect, follow, crop, score pairs, aggregate (SPEC §5).

Frames are taken every ``frame_step``; each pair is (previous taken frame, current one). The face
is detected with MTCNN on the first frame and at least every ``detect_every`` taken frames. In
between, the landmarks are followed with the pair's own landmark flow: the similarity transform
fitted to the tracked points moves the whole shape, so it keeps its form and cannot drift apart.
Tracking fails, and the next frame is detected again, when fewer than ``min_tracked_fraction``
points were tracked or they stray from that similarity by more than ``max_track_residual``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

from liveness.config import LivenessConfig
from liveness.crop import CropWindow
from liveness.detect import FaceDetector
from liveness.detectors import make_detector
from liveness.geometry import fit_similarity
from liveness.landmarks import LandmarkBackend, landmark_backend
from liveness.reference import PairEvidence, check_pair
from liveness.cues import ClipEvidence, decide
from liveness.results import ClipVerdict, FrameTexture, PairResult, PairStatus, Reason, Verdict
from liveness.texture import TextureScorer, cut_patches, landmark_box
from liveness.video import validate_frames


SNAPSHOT_PX = 256


@dataclass(frozen=True)
class Snapshot:
    """The face window of a scored pair's first frame, JPEG-compressed, for the report."""

    window: CropWindow
    jpeg: bytes = field(repr=False)

    def rgb(self) -> np.ndarray:
        """The ``[size, size, 3]`` uint8 RGB picture; map frame points with ``window.to_crop``."""
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR),
                            cv2.COLOR_BGR2RGB)


PairScorer = Callable[[np.ndarray, np.ndarray, np.ndarray, LivenessConfig], PairEvidence]
TextureModel = Callable[[np.ndarray], np.ndarray]
"""``[B, 2, 80, 80, 3]`` uint8 BGR patches -> ``[B]`` real-face probabilities."""
FrameObserver = Callable[[int, np.ndarray, "np.ndarray | None", "PairResult | None"], None]


@dataclass(frozen=True)
class ClipResult:
    """A verdict plus what the report draws and how long each stage took (not in the JSON)."""

    verdict: ClipVerdict
    snapshots: dict[int, Snapshot]
    """Pair index -> snapshot, for every scored pair."""
    timing: dict[str, dict[str, float]] = field(default_factory=dict)
    """Stage (``detector``, ``landmarks``, ``check``, ``texture``) -> ``calls``, ``total_ms``,
    ``mean_ms``."""
    patches: np.ndarray | None = field(default=None, repr=False)
    """``[2, 80, 80, 3]`` BGR texture patches of one used frame (for the report), or None."""
    patches_frame: int | None = None

    def representative_pair(self) -> int | None:
        """The scored pair whose score is closest to the clip's median (else any pair with a
        snapshot), or None."""
        if not self.snapshots:
            return None
        median = self.verdict.score
        if median is None:
            return min(self.snapshots)
        return min(self.snapshots, key=lambda i: abs((self.verdict.pairs[i].score or 0) - median))


class ClipChecker:
    """Runs the check over clips with one detector, landmark backend, pair scorer and texture
    model (loaded once). Defaults: the config's detector on LiteRT (``liveness.detectors``), the OpenCV
    reference pair check and the shipped ``texture.tflite`` — no TensorFlow. The LiteRT demo
    passes the exported files and runs this same loop.
    """

    def __init__(self, cfg: LivenessConfig, detector: FaceDetector | None = None,
                 landmarks: LandmarkBackend | None = None, scorer: PairScorer = check_pair,
                 texture: TextureModel | None = None) -> None:
        self.cfg = cfg
        self.detector = detector or make_detector(cfg.detector, min_face_px=cfg.min_face_px,
                                                  min_confidence=cfg.min_face_confidence)
        self.landmarks = landmarks or landmark_backend(cfg.landmarks)
        self.scorer = scorer
        self.texture = texture or TextureScorer()
        self._timer = _StageTimer()

    def check(self, frames: Iterable[np.ndarray], *, source: str = "", fps: float | None = None,
              total: int | None = None, quiet: bool = True,
              record: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
              observer: FrameObserver | None = None) -> ClipResult:
        """Check a clip of RGB frames (``[H, W, 3]`` uint8; grey and RGBA are converted).

        ``record``, when given, receives ``(prev_crop, next_crop, crop_landmarks)`` for every pair
        with a face: exactly what the scorer scored (used by ``liveness parity``). ``observer``,
        when given, is called per taken frame with ``(index, rgb, landmarks or None, the pair
        ending at this frame or None)`` (used for overlay videos).

        Raises ``ValueError`` for an empty clip or frames that change size, ``TypeError`` for a
        wrong dtype. Everything else is a :class:`ClipVerdict`, possibly ``undecided``.
        """
        cfg = self.cfg
        self._timer = _StageTimer()
        self._example, self._example_close = (None, None), True
        pairs: list[PairResult] = []
        texture: list[FrameTexture] = []
        snapshots: dict[int, Snapshot] = {}
        prev_grey = prev_rgb = prev_landmarks = None
        prev_state = PairStatus.NO_FACE
        prev_index = since_detect = 0
        taken = 0
        bar = tqdm(validate_frames(frames), total=total, unit="frame", disable=quiet,
                   desc=source or "clip", leave=False)
        for index, rgb in enumerate(bar):
            if index % cfg.frame_step:
                continue
            taken += 1
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            tracked = pair = None
            if prev_grey is not None:
                pair, tracked = self._pair(prev_grey, grey, prev_landmarks, prev_state,
                                           prev_index, index, record)
                if pair.status is not PairStatus.NO_FACE and pair.status is not PairStatus.MULTIPLE_FACES:
                    snapshots[len(pairs)] = _snapshot(prev_rgb, prev_landmarks, self.cfg)
                pairs.append(pair)
            if tracked is not None and _inside(tracked, grey.shape) and since_detect + 1 < cfg.detect_every:
                prev_landmarks, prev_state = tracked, PairStatus.SCORED
                since_detect += 1
            else:
                prev_landmarks, prev_state = self._detect(rgb)
                since_detect = 0
            if prev_landmarks is not None and (taken - 1) % cfg.texture_every == 0:
                texture.append(self._texture(index, rgb, prev_landmarks))
            if observer is not None:
                observer(index, rgb, prev_landmarks, pair)
            prev_grey, prev_rgb, prev_index = grey, rgb, index
        bar.close()
        if taken == 0:
            raise ValueError(f"{source or 'clip'}: no frames (expected at least two decodable frames)")
        verdict = aggregate(pairs, cfg, frames=index + 1, source=source, fps=fps,
                            texture=texture)
        return ClipResult(verdict, snapshots, self._timer.summary(), *self._example)

    def _texture(self, index: int, rgb: np.ndarray, landmarks: np.ndarray) -> FrameTexture:
        """The texture cue on one frame with one face (its landmarks ``[68, 2]``)."""
        patches, kept = cut_patches(rgb, landmark_box(landmarks))
        with self._timer("texture"):
            probability = float(self.texture(patches[None])[0])
        context = float(kept.min())
        close = context < self.cfg.texture_min_scale
        if self._example[0] is None or (not close and self._example_close):
            self._example, self._example_close = (patches, index), close
        return FrameTexture(index, probability, context, Reason.FACE_TOO_CLOSE.value if close else None)

    def _detect(self, rgb: np.ndarray) -> tuple[np.ndarray | None, PairStatus]:
        with self._timer("detector"):
            faces = self.detector.detect(rgb)
        if not faces:
            return None, PairStatus.NO_FACE
        if len(faces) > 1:
            return None, PairStatus.MULTIPLE_FACES
        with self._timer("landmarks"):
            return self.landmarks.fit(rgb, faces[0]), PairStatus.SCORED

    def _pair(self, prev_grey: np.ndarray, grey: np.ndarray, landmarks: np.ndarray | None,
              state: PairStatus, prev_index: int, index: int,
              record: list | None) -> tuple[PairResult, np.ndarray | None]:
        """The pair's result and the landmarks followed into ``grey`` (None when tracking failed)."""
        if landmarks is None:
            return PairResult(prev_index, index, state), None
        cfg = self.cfg
        window = CropWindow.around(landmarks, cfg.crop_scale, cfg.crop_size)
        crops = (window.cut(prev_grey), window.cut(grey), window.to_crop(landmarks))
        if record is not None:
            record.append(crops)
        with self._timer("check"):
            evidence = self.scorer(*crops, cfg)
        flow = evidence.landmark_flow / np.float32(window.scale)
        status = evidence.landmark_status
        scored = evidence.score is not None
        pair = PairResult(
            prev_index, index, PairStatus.SCORED if scored else PairStatus.INSUFFICIENT_MOTION,
            score=evidence.score, is_live=evidence.is_live,
            landmark_hist=tuple(evidence.landmark_hist.tolist()),
            eye_hist=tuple(evidence.eye_hist.tolist()),
            landmark_vectors=evidence.landmark_vectors, eye_vectors=evidence.eye_vectors,
            sigma=None if evidence.sigma is None else evidence.sigma / float(window.scale),
            motion=evidence.motion / float(window.scale), plane_residual=evidence.plane_residual,
            motion_judged=evidence.motion_judged, planar=evidence.planar,
            landmarks=landmarks, landmark_flow=flow,
            eye_boxes=window.to_frame(evidence.eye_boxes.reshape(-1, 2)).reshape(2, 4))
        if status.mean() < cfg.min_tracked_fraction:
            return pair, None
        return pair, follow(landmarks, flow, status, cfg.max_track_residual)


def follow(landmarks: np.ndarray, flow: np.ndarray, status: np.ndarray,
           max_residual: float) -> np.ndarray | None:
    """``[68, 2]`` landmarks moved by the similarity fitted to the tracked points' flow, or None.

    None when the fit is degenerate or the tracked points' median distance from it exceeds
    ``max_residual`` x the shape's larger extent.

    >>> pts = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
    >>> follow(pts, np.full((4, 2), 0.5, np.float32), np.ones(4, bool), 0.05)[3].tolist()
    [10.5, 10.5]
    """
    src = landmarks[status].astype(np.float64)
    dst = src + flow[status]
    transform = fit_similarity(src, dst)
    if transform is None:
        return None
    residual = float(np.median(np.linalg.norm(transform(src) - dst, axis=1)))
    if residual > max_residual * float(np.ptp(landmarks, axis=0).max()):
        return None
    return transform(landmarks).astype(np.float32)


def clip_evidence(pairs: list[PairResult], texture: list[FrameTexture] = ()) -> ClipEvidence:
    """What the cues decide a clip from: its pair results and its frames' texture."""
    with_face = [p for p in pairs if p.status in (PairStatus.SCORED, PairStatus.INSUFFICIENT_MOTION)]
    return ClipEvidence(
        pairs_with_face=len(with_face),
        pair_scores=tuple(float(p.score) for p in with_face if p.score is not None),
        motion_judged=sum(p.motion_judged for p in with_face),
        motion_planar=sum(p.planar for p in with_face),
        texture_probabilities=tuple(t.probability for t in texture if t.used),
        texture_too_close=sum(t.reason == Reason.FACE_TOO_CLOSE.value for t in texture))


def face_outcome(pairs: list[PairResult]) -> Reason | None:
    """``too_few_pairs``, ``no_face`` or ``multiple_faces`` when no pair of the clip had a face."""
    if not pairs:
        return Reason.TOO_FEW_PAIRS
    if any(p.status in (PairStatus.SCORED, PairStatus.INSUFFICIENT_MOTION) for p in pairs):
        return None
    multiple = any(p.status is PairStatus.MULTIPLE_FACES for p in pairs)
    return Reason.MULTIPLE_FACES if multiple else Reason.NO_FACE


def aggregate(pairs: list[PairResult], cfg: LivenessConfig, *, frames: int, source: str = "",
              fps: float | None = None, texture: list[FrameTexture] = ()) -> ClipVerdict:
    """The clip verdict from its pair results and per-frame texture (``liveness.cues``)."""
    evidence = clip_evidence(pairs, texture)
    verdict, reason, opinions = decide(evidence, cfg)
    missing = face_outcome(pairs)
    if missing is not None:
        verdict, reason = Verdict.UNDECIDED, missing
    return ClipVerdict(verdict=verdict, reason=reason, decision=cfg.decision, cues=opinions,
                       preset=cfg.preset, frames=frames, pairs=tuple(pairs),
                       texture=tuple(texture), source=source, fps=fps, config=cfg.to_dict())


class _StageTimer:
    """Wall time per named stage: ``with timer("check"): ...``."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[stage].append(time.perf_counter() - start)

    def summary(self) -> dict[str, dict[str, float]]:
        return {stage: {"calls": len(t), "total_ms": round(1000 * sum(t), 3),
                        "mean_ms": round(1000 * sum(t) / len(t), 3)}
                for stage, t in self.totals.items()}


def _inside(landmarks: np.ndarray, shape: tuple[int, int]) -> bool:
    """The landmarks' centre is still inside the frame (else the face drifted out: re-detect)."""
    centre = landmarks.mean(axis=0)
    return bool(0 <= centre[0] < shape[1] and 0 <= centre[1] < shape[0])


def _snapshot(rgb: np.ndarray, landmarks: np.ndarray, cfg: LivenessConfig) -> Snapshot:
    window = CropWindow.around(landmarks, cfg.crop_scale, cfg.crop_size)
    window = window.resized(min(window.side, SNAPSHOT_PX))
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(window.cut(rgb), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])
    return Snapshot(window, jpeg.tobytes())
