"""Stage S5b: the per-pair decision."""

from __future__ import annotations


def decide(score: float | None, threshold: float) -> bool | None:
    """Live (True) when ``score > threshold``; ``None`` when the pair has no score.

    >>> decide(120.0, 100.0), decide(100.0, 100.0), decide(None, 100.0)
    (True, False, None)
    """
    if score is None:
        return None
    return bool(score > threshold)
