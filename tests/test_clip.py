"""The clip pipeline on synthetic clips and every class of bad input."""

import cv2
import numpy as np
import pytest

from liveness.config import preset
from liveness.clip import aggregate
from liveness.results import FrameTexture, PairResult, PairStatus, Reason, Verdict
from liveness.synthetic import base_frame, synthetic_clip


def test_synthetic_live_clip_moves_like_a_face(checker, synthetic_clips):
    """The synthetic live clip's motion is non-rigid: chi-square says live, motion has no
    opinion, so the fused verdict is the texture network's. (Its texture is a re-rendered photo,
    which the network scores near the calibrated threshold: it is not a test of texture.)"""
    verdict = checker.check(synthetic_clips["live"]).verdict
    assert verdict.cues["chi_square"].opinion.value == "live", verdict.summary()
    assert verdict.cues["motion"].reason is Reason.NOT_PLANAR
    assert verdict.pairs_used >= 20
    assert verdict.verdict.value == verdict.cues["texture"].opinion.value


@pytest.mark.parametrize("kind", ["photo", "screen"])
def test_synthetic_attacks_are_spoof(kind, checker, synthetic_clips):
    verdict = checker.check(synthetic_clips[kind]).verdict
    assert verdict.verdict is Verdict.SPOOF, verdict.summary()


@pytest.mark.parametrize("seed", [0, 1])
def test_motion_alone_calls_planar_attacks_spoof_and_never_live(seed, synthetic_clips):
    """Prints and hand-held screens moved with perspective: planar down to the noise σ; the live
    clip gets no opinion (motion never says live)."""
    from liveness.clip import ClipChecker

    motion = ClipChecker(preset("default").replace(decision="motion"))
    clips = (synthetic_clips if seed == 0
             else {kind: synthetic_clip(kind, frames=30, seed=seed) for kind in synthetic_clips})
    for kind, clip in clips.items():
        verdict = motion.check(clip).verdict
        cue = verdict.cues["motion"]
        if kind == "live":
            assert verdict.verdict is Verdict.UNDECIDED, verdict.summary()
            assert cue.reason in (Reason.NOT_PLANAR, Reason.INSUFFICIENT_MOTION)
        else:
            assert verdict.verdict is Verdict.SPOOF, f"{kind}: {verdict.summary()}"
            judged = [p for p in verdict.pairs if p.motion_judged]
            assert len(judged) >= 15
            # Residual of a plane: the noise itself (a 2-D Gaussian's median distance is 1.18 σ).
            assert 0.8 < np.median([p.plane_residual for p in judged]) < 1.75


def _still_clip(kind: str, frames: int = 12, seed: int = 3) -> list[np.ndarray]:
    """A face held still: sub-pixel tremor, sensor noise and JPEG compression on every frame."""
    rng = np.random.default_rng(seed)
    base = base_frame() if kind == "live" else synthetic_clip("photo", frames=1, seed=seed)[0]
    clip = []
    for _ in range(frames):
        shift = np.float32([[1, 0, rng.normal(0, 0.15)], [0, 1, rng.normal(0, 0.15)]])
        frame = cv2.warpAffine(base, shift, base.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        frame = np.clip(frame + rng.normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8)
        _ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        clip.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    return clip


@pytest.mark.parametrize("kind", ["live", "photo"])
def test_a_face_held_still_never_reads_as_live_motion(kind, checker):
    verdict = checker.check(_still_clip(kind)).verdict
    motion = verdict.cues["motion"]
    assert motion.opinion.value == "no_opinion"
    assert motion.reason is Reason.INSUFFICIENT_MOTION and motion.used < 5


def test_identical_frames_give_motion_no_opinion(checker):
    frame = base_frame()
    verdict = checker.check([frame] * 8).verdict
    for cue in ("motion", "chi_square"):
        assert verdict.cues[cue].opinion.value == "no_opinion"
        assert verdict.cues[cue].reason is Reason.INSUFFICIENT_MOTION
    # Texture alone decides a perfectly still clip in the fused check.
    assert verdict.verdict.value == verdict.cues["texture"].opinion.value
    assert all(p.score is None and not p.motion_judged for p in verdict.pairs)


def test_black_frames_have_no_face(checker):
    verdict = checker.check(np.zeros((6, 240, 320, 3), np.uint8)).verdict
    assert (verdict.verdict, verdict.reason) == (Verdict.UNDECIDED, Reason.NO_FACE)
    assert verdict.score is None and verdict.pairs_used == 0


def test_one_frame_is_too_few_pairs(checker):
    verdict = checker.check([base_frame()]).verdict
    assert (verdict.verdict, verdict.reason) == (Verdict.UNDECIDED, Reason.TOO_FEW_PAIRS)


def test_tiny_face_is_ignored(checker):
    small = cv2.resize(base_frame(), (160, 120), interpolation=cv2.INTER_AREA)
    frames = [np.pad(small, ((180, 180), (240, 240), (0, 0)))] * 4
    verdict = checker.check(frames).verdict
    assert verdict.reason is Reason.NO_FACE


def test_two_faces_are_multiple_faces(checker):
    frame = base_frame()[:, 160:480]
    verdict = checker.check([np.concatenate([frame, frame], axis=1)] * 4).verdict
    assert (verdict.verdict, verdict.reason) == (Verdict.UNDECIDED, Reason.MULTIPLE_FACES)


def test_face_partly_outside_the_frame_gives_a_finite_verdict(checker, synthetic_clips):
    clip = synthetic_clips["photo"][:12, :, 250:]   # the face's left side is cut off
    verdict = checker.check(np.ascontiguousarray(clip)).verdict
    assert verdict.verdict in tuple(Verdict)
    assert verdict.score is None or np.isfinite(verdict.score)


def test_grey_and_rgba_frames_are_accepted(checker, synthetic_clips):
    clip = synthetic_clips["photo"][:6]
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip]
    rgba = [cv2.cvtColor(f, cv2.COLOR_RGB2RGBA) for f in clip]
    for frames in (grey, rgba):
        assert len(checker.check(frames).verdict.pairs) == 5


def test_bad_clips_raise_with_what_was_expected(checker):
    frame = base_frame()
    with pytest.raises(ValueError, match="no frames"):
        checker.check([])
    with pytest.raises(ValueError, match="all frames of a clip must have one size"):
        checker.check([frame, frame[:200]])
    with pytest.raises(TypeError, match="uint8"):
        checker.check([frame.astype(np.float32) / 255])
    with pytest.raises(ValueError, match=r"\[H, W\], \[H, W, 3\] or \[H, W, 4\]"):
        checker.check([np.zeros((4, 64, 64, 3), np.uint8)])


def _pair(status, score=None, judged=False, planar=False):
    return PairResult(0, 1, status, score=score, motion_judged=judged, planar=planar)


def _texture(probability, count=4, context=1.0):
    return [FrameTexture(i, probability, context, None if context >= 0.25 else "face_too_close")
            for i in range(count)]


def test_fused_rule_spoof_from_any_cue_live_only_from_texture():
    cfg = preset("default").replace(min_pairs=3)
    assert cfg.decision == "fused"
    moving = [_pair(PairStatus.SCORED, 50, judged=True)] * 6
    assert aggregate(moving, cfg, frames=7, texture=_texture(0.9)).verdict is Verdict.LIVE
    fake_texture = aggregate(moving, cfg, frames=7, texture=_texture(0.1))
    assert fake_texture.verdict is Verdict.SPOOF
    flat = [_pair(PairStatus.SCORED, 50, judged=True, planar=True)] * 6
    verdict = aggregate(flat, cfg, frames=7, texture=_texture(0.9))
    assert verdict.verdict is Verdict.SPOOF and "motion spoof" in verdict.summary()
    # A cue with no opinion never turns a clip live by itself.
    close = aggregate(moving, cfg, frames=7, texture=_texture(0.9, context=0.1))
    assert (close.verdict, close.reason) == (Verdict.UNDECIDED, Reason.FACE_TOO_CLOSE)
    assert aggregate(moving, cfg, frames=7).reason is Reason.NO_TEXTURE


def test_aggregation_rules():
    cfg = preset("default").replace(min_pairs=3, threshold=30.0, decision="chi_square")
    live = aggregate([_pair(PairStatus.SCORED, s) for s in (10, 40, 50, 60)], cfg, frames=5)
    assert (live.verdict, live.score, live.pairs_used) == (Verdict.LIVE, 45.0, 4)
    spoof = aggregate([_pair(PairStatus.SCORED, s) for s in (10, 20, 50)], cfg, frames=4)
    assert spoof.verdict is Verdict.SPOOF
    still = [_pair(PairStatus.INSUFFICIENT_MOTION)] * 5 + [_pair(PairStatus.SCORED, 90)]
    assert aggregate(still, cfg, frames=7).reason is Reason.INSUFFICIENT_MOTION
    short = [_pair(PairStatus.SCORED, 90)] * 2
    assert aggregate(short, cfg, frames=3).reason is Reason.TOO_FEW_PAIRS
    crowd = [_pair(PairStatus.MULTIPLE_FACES)] * 3 + [_pair(PairStatus.NO_FACE)]
    assert aggregate(crowd, cfg, frames=5).reason is Reason.MULTIPLE_FACES
    assert aggregate([], cfg, frames=1).reason is Reason.TOO_FEW_PAIRS


def test_verdict_json_has_the_documented_keys(checker, synthetic_clips):
    import json

    data = json.loads(checker.check(synthetic_clips["photo"][:8]).verdict.to_json())
    for key in ("verdict", "reason", "decision", "cues", "preset", "pairs", "texture", "frames"):
        assert key in data
    assert set(data["cues"]) == {"chi_square", "motion", "texture"}
    for cue in data["cues"].values():
        assert set(cue) == {"opinion", "score", "threshold", "used", "reason"}
    pair = data["pairs"][0]
    for key in ("prev_index", "next_index", "score", "landmark_hist", "eye_hist",
                "landmark_vectors", "eye_vectors", "sigma", "motion", "plane_residual",
                "motion_judged", "planar"):
        assert key in pair
    assert len(pair["landmark_hist"]) == 10


def test_synthetic_generator_is_seeded_and_checked():
    np.testing.assert_array_equal(synthetic_clip("live", 3, seed=7), synthetic_clip("live", 3, seed=7))
    with pytest.raises(ValueError, match="valid: live, photo"):
        synthetic_clip("print")  # type: ignore[arg-type]
