import dataclasses
import json

import pytest

from liveness.config import PRESET_NAMES, LivenessConfig, preset


def test_presets_follow_the_spec():
    patent = preset("patent")
    assert patent.min_motion_px == 0.0 and patent.threshold == 100.0
    assert patent.aggregation == "vote" and patent.bins == 10
    assert preset("default").aggregation == "median"


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="valid presets: patent, default"):
        preset("nope")


def test_config_is_frozen_and_validated():
    cfg = preset("default")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.threshold = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="lk_window must be odd"):
        cfg.replace(lk_window=14)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 200\]"):
        LivenessConfig(threshold=250.0)
    with pytest.raises(ValueError, match="aggregation"):
        LivenessConfig(aggregation="mean")  # type: ignore[arg-type]


def test_config_round_trips_through_json():
    for name in PRESET_NAMES:
        cfg = preset(name)
        assert LivenessConfig(**json.loads(cfg.to_json())) == cfg
