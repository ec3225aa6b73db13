"""``python -m mobile_demo``: the liveness check on LiteRT alone.

    python -m mobile_demo VIDEO --model-dir build/export [--json out.json] [--overlay out.mp4]
    python -m mobile_demo --camera 0 --model-dir build/export --max-frames 90
    python -m mobile_demo --nv21 dump.nv21 --width 640 --height 480 --model-dir build/export

The model folder is what ``liveness export --out DIR`` writes (``liveness_pair.tflite``,
``texture.tflite``, ``mtcnn_*.tflite``, ``model_manifest.json``); the check uses the config
recorded in the manifest.
User mistakes print one ``mobile_demo: error: ...`` line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from liveness.clip import ClipChecker
from liveness.config import DETECTORS
from liveness.landmarks import landmark_backend
from liveness.texture import TextureScorer
from liveness.detectors import make_detector
from mobile_demo.lite_check import LiteScorer, ModelError, config_from_manifest, load_manifest
from mobile_demo.overlay import OverlayWriter
from mobile_demo.sources import open_video, read_camera, read_nv21


def run(source: str, model_dir: Path, *, frames=None, fps: float | None = None,
        total: int | None = None, threads: int | None = None, landmarks: str | None = None,
        detect_every: int | None = None, overlay: Path | None = None, quiet: bool = True,
        detector_name: str | None = None) -> dict:
    """Check one clip; returns the verdict dict (``liveness check``'s JSON keys) plus ``timing``."""
    manifest = load_manifest(model_dir)
    cfg = config_from_manifest(manifest)
    if landmarks:
        cfg = cfg.replace(landmarks=landmarks)
    if detect_every:
        cfg = cfg.replace(detect_every=detect_every)
    if detector_name:
        cfg = cfg.replace(detector=detector_name)
    try:
        detector = make_detector(cfg.detector, min_face_px=cfg.min_face_px,
                                 min_confidence=cfg.min_face_confidence, mtcnn_dir=model_dir,
                                 threads=threads)
    except FileNotFoundError as error:
        raise ModelError(f"{error} (`liveness export` writes the MTCNN files, `liveness "
                         "fetch-facemesh` BlazeFace)") from None
    checker = ClipChecker(cfg, detector=detector, landmarks=landmark_backend(cfg.landmarks),
                          scorer=LiteScorer(model_dir, manifest, threads),
                          texture=TextureScorer(model_dir / "texture.tflite", threads))
    writer = (OverlayWriter(overlay, fps or 15.0, cfg.eye_min_box_px, cfg.eye_box_scale)
              if overlay else None)
    start = time.perf_counter()
    try:
        result = checker.check(frames, source=source, fps=fps, total=total, quiet=quiet,
                               observer=writer)
    finally:
        if writer is not None:
            writer.close()
    elapsed = time.perf_counter() - start
    out = result.verdict.to_dict()
    out["timing"] = {"stages": result.timing, "wall_s": round(elapsed, 3),
                     "frames_per_second": round(result.verdict.frames / elapsed, 2),
                     "threads": threads}
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="mobile_demo", description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", type=Path, help="video file")
    parser.add_argument("--camera", type=int, help="camera index instead of a file")
    parser.add_argument("--max-frames", type=int, default=150, help="frames to take from a camera")
    parser.add_argument("--nv21", type=Path, help="raw NV21 frames, back to back")
    parser.add_argument("--width", type=int, help="NV21 frame width")
    parser.add_argument("--height", type=int, help="NV21 frame height")
    parser.add_argument("--fps", type=float, help="frame rate of NV21 or camera input (for timing)")
    parser.add_argument("--model-dir", type=Path, required=True, help="folder from `liveness export`")
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: runtime's)")
    parser.add_argument("--landmarks", choices=("template", "facemesh"))
    parser.add_argument("--detector", choices=DETECTORS,
                        help="face detector (default: the exported config's)")
    parser.add_argument("--detect-every", type=int, help="re-detect at least every N frames")
    parser.add_argument("--json", type=Path, help="write the verdict and timing here")
    parser.add_argument("--overlay", type=Path, help="write an overlay video (.mp4 or .avi)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    chosen = [args.video is not None, args.camera is not None, args.nv21 is not None]
    if sum(chosen) != 1:
        parser.error("give exactly one input: VIDEO, --camera N or --nv21 FILE")
    try:
        if args.nv21 is not None:
            if args.width is None or args.height is None:
                raise ValueError("--nv21 needs --width and --height")
            frames, fps, total, source = (read_nv21(args.nv21, args.width, args.height), args.fps,
                                          None, str(args.nv21))
        elif args.camera is not None:
            frames, fps, total, source = (read_camera(args.camera, args.max_frames), args.fps,
                                          args.max_frames, f"camera {args.camera}")
        else:
            (frames, fps, total), source = open_video(args.video), str(args.video)
        out = run(source, args.model_dir, frames=frames, fps=fps, total=total, threads=args.threads,
                  landmarks=args.landmarks, detect_every=args.detect_every, overlay=args.overlay,
                  quiet=args.quiet, detector_name=args.detector)
    except (ValueError, TypeError, OSError, ImportError) as error:
        print(f"mobile_demo: error: {error}", file=sys.stderr)
        return 2
    stages = ", ".join(f"{k} {v['mean_ms']:.1f} ms x{v['calls']}" for k, v in out["timing"]["stages"].items())
    summary = out["verdict"] + (f": {out['reason']}" if out["reason"] else "")
    print(f"{source}: {summary}; {out['timing']['frames_per_second']} frames/s; {stages}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
