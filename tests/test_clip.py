"""The clip pipeline on synthetic clips and every class of bad input."""

import cv2
import numpy as np
import pytest

from liveness.config import preset
from liveness.clip import aggregate
from liveness.results import PairResult, PairStatus, Reason, Verdict
from liveness.synthetic import base_frame, synthetic_clip


def test_synthetic_live_clip_is_live(checker, synthetic_clips):
    verdict = checker.check(synthetic_clips["live"]).verdict
    assert verdict.verdict is Verdict.LIVE, verdict.summary()
    assert verdict.pairs_used >= 20


@pytest.mark.parametrize("kind", ["photo", "screen"])
def test_synthetic_attacks_are_spoof(kind, checker, synthetic_clips):
    verdict = checker.check(synthetic_clips[kind]).verdict
    assert verdict.verdict is Verdict.SPOOF, verdict.summary()


@pytest.mark.parametrize("seed", [0, 1])
def test_planarity_alone_calls_planar_attacks_spoof(seed, synthetic_clips):
    """Prints and hand-held screens moved with perspective: flat, whatever the eye boxes show."""
    from liveness.clip import ClipChecker

    planarity = ClipChecker(preset("default").replace(decision="planarity"))
    clips = (synthetic_clips if seed == 0
             else {kind: synthetic_clip(kind, frames=30, seed=seed) for kind in synthetic_clips})
    for kind, clip in clips.items():
        verdict = planarity.check(clip).verdict
        expected = Verdict.LIVE if kind == "live" else Verdict.SPOOF
        assert verdict.verdict is expected, f"{kind}: {verdict.summary()}"
        assert verdict.planarity_pairs >= 15
        if kind != "live":
            assert verdict.planarity < preset("default").planarity_threshold / 2


def test_patent_preset_decides_per_pair_and_votes(synthetic_clips):
    from liveness.clip import ClipChecker

    verdict = ClipChecker(preset("patent")).check(synthetic_clips["photo"]).verdict
    assert verdict.aggregation == "vote" and verdict.threshold == 100.0
    assert verdict.verdict is Verdict.SPOOF
    scored = [p for p in verdict.pairs if p.status is PairStatus.SCORED]
    assert all(p.is_live == (p.score > 100.0) for p in scored)
    assert verdict.live_fraction == pytest.approx(np.mean([p.is_live for p in scored]))


def test_still_frames_are_insufficient_motion(checker):
    frame = base_frame()
    verdict = checker.check([frame] * 8).verdict
    assert verdict.verdict is Verdict.UNDECIDED
    assert verdict.reason is Reason.INSUFFICIENT_MOTION
    assert all(p.score is None for p in verdict.pairs)


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


def _pair(status, score=None, planarity=None):
    return PairResult(0, 1, status, score=score, planarity=planarity)


def test_fused_rule_needs_both_cues_to_pass():
    cfg = preset("default").replace(min_pairs=3, threshold=30.0)
    assert cfg.decision == "fused"
    moving = [_pair(PairStatus.SCORED, 50, planarity=0.3)] * 4
    assert aggregate(moving, cfg, frames=5).verdict is Verdict.LIVE
    flat = [_pair(PairStatus.SCORED, 50, planarity=0.04)] * 4
    verdict = aggregate(flat, cfg, frames=5)
    assert verdict.verdict is Verdict.SPOOF and verdict.planarity == pytest.approx(0.04)
    assert "planarity 0.040 < 0.15" in verdict.summary()
    too_still = [_pair(PairStatus.SCORED, 50)] * 4
    assert aggregate(too_still, cfg, frames=5).reason is Reason.INSUFFICIENT_MOTION
    low_score = [_pair(PairStatus.SCORED, 10)] * 4   # spoof by chi-square: planarity not needed
    assert aggregate(low_score, cfg, frames=5).verdict is Verdict.SPOOF


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
    for key in ("verdict", "reason", "score", "threshold", "preset", "pairs_used", "pairs"):
        assert key in data
    pair = data["pairs"][0]
    for key in ("prev_index", "next_index", "score", "landmark_hist", "eye_hist",
                "landmark_vectors", "eye_vectors"):
        assert key in pair
    assert len(pair["landmark_hist"]) == 10


def test_synthetic_generator_is_seeded_and_checked():
    np.testing.assert_array_equal(synthetic_clip("live", 3, seed=7), synthetic_clip("live", 3, seed=7))
    with pytest.raises(ValueError, match="valid: live, photo"):
        synthetic_clip("print")  # type: ignore[arg-type]
