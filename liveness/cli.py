"""The ``liveness`` command: ``check``, ``demo``, ``evaluate``, ``calibrate``, ``parity``, ``export``,
``bench``, ``eval-landmarks``, ``fetch-facemesh``.

Each subcommand is a typed ``run_*`` function plus its argparse wiring. User mistakes (missing
file, bad video, unknown preset) print one ``liveness: error: ...`` line and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

from liveness.config import DECISIONS, DETECTORS, PRESET_NAMES, LivenessConfig, preset  # noqa: E402


def build_config(args: argparse.Namespace) -> LivenessConfig:
    """The preset named by ``--preset`` with the command line's overrides applied."""
    cfg = preset(args.preset)
    overrides = {"landmarks": args.landmarks, "threshold": args.threshold,
                 "detector": args.detector,
                 "texture_threshold": args.texture_threshold,
                 "decision": args.decision, "frame_step": args.frame_step}
    return cfg.replace(**{k: v for k, v in overrides.items() if v is not None})


def run_check(videos: list[str], cfg: LivenessConfig, *, json_path: Path | None = None,
              report_path: Path | None = None, out_dir: Path | None = None,
              quiet: bool = False) -> list:
    """Check each video; print one verdict line per clip (to stderr when the JSON goes to
    stdout, ``json_path`` = ``-``), write the JSON and report files, warn about damaged files."""
    from liveness.clip import ClipChecker
    from liveness.report import write_report
    from liveness.synthetic import KINDS, synthetic_clip
    from liveness.video import DecodeReport, probe, read_video

    if len(videos) > 1 and report_path:
        raise ValueError("--report takes one video; use --out-dir for several")
    if len(videos) > 1 and json_path and str(json_path) != "-":
        raise ValueError("--json FILE takes one video; use --json - (a JSON list on stdout) or "
                         "--out-dir for several")
    to_stdout = json_path is not None and str(json_path) == "-"
    lines = sys.stderr if to_stdout else sys.stdout
    checker = ClipChecker(cfg)
    verdicts = []
    for video in videos:
        decoding = None
        if video.startswith("synthetic:"):
            kind = video.split(":", 1)[1]
            if kind not in KINDS:
                raise ValueError(f"unknown synthetic clip {video!r}; valid: "
                                 + ", ".join(f"synthetic:{k}" for k in KINDS))
            frames = synthetic_clip(kind)
            fps, total = 30.0, len(frames)
        else:
            info = probe(video)
            decoding = DecodeReport(info.claimed_frames)
            frames, fps, total = read_video(video, decoding), info.fps, info.claimed_frames
        result = checker.check(frames, source=video, fps=fps, total=total, quiet=quiet)
        verdict = result.verdict
        if decoding is not None:
            verdict = dataclasses.replace(verdict, decoding=decoding.to_dict())
            if (warning := decoding.warning(video)) is not None:
                print(f"liveness: warning: {warning}", file=sys.stderr)
        print(f"{video}: {verdict.summary()}", file=lines)
        stem = Path(video.replace("synthetic:", "synthetic_")).stem
        targets = [(None if to_stdout else json_path, report_path)]
        if out_dir:
            targets.append((out_dir / f"{stem}.json", out_dir / f"{stem}.png"))
        for js, png in targets:
            if js:
                js.parent.mkdir(parents=True, exist_ok=True)
                js.write_text(verdict.to_json() + "\n")
            if png:
                write_report(result, png)
        verdicts.append(verdict)
    if to_stdout:
        data = [v.to_dict() for v in verdicts]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=1))
    return verdicts


DEMO_NOTE = """What the demo shows: the three clips are renderings of one photo (scikit-image's astronaut).
The motion cue tells them apart — no plane in the live-like clip, a plane in the print and the
screen (motion spoof). The texture network sees a re-rendered photo in all three; it scores the
live-like clip near its threshold, so that clip may come out spoof on texture alone. Real faces
score 0.8-1.0 (docs/accuracy.md). Check a real recording with: liveness check VIDEO --report r.png"""


def run_eval_landmarks(data: Path, out: Path | None) -> str:
    """Landmark error of both backends on dlib's testing annotations, as Markdown."""
    from liveness.landmarks.evaluate import evaluate_backends, markdown_table

    xml = data / "testing_with_face_landmarks.xml"
    if not xml.is_file():
        raise FileNotFoundError(f"{xml} not found (expected the shared dlib_faces folder)")
    table = markdown_table(evaluate_backends(xml, ["template", "facemesh"]))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_LANDMARK_DOC.format(table=table, xml=xml.name))
    return table


_LANDMARK_DOC = """# Landmark backends against dlib's annotations

Generated by `liveness eval-landmarks --out docs/landmarks.md` on `{xml}` (PASCAL VOC photos of
dlib's examples; 68 iBUG points from dlib's shape predictor, used as reference). The backends' data
files were built from the *training* file only (`scripts/build_landmark_data.py`), so these faces
were not seen when building them.

Mean point-to-point error divided by the inter-ocular distance (outer eye corners, points 36-45),
per iBUG region. MTCNN finds the faces (min face 20 px, confidence 0.5 for this table); `missed`
counts annotated faces it did not find.

{table}

- `template`: the Procrustes mean shape placed by a similarity fitted to MTCNN's five keypoints.
  It cannot follow expression or head pose, so the jaw (most pose-dependent) is the worst region.
- `facemesh`: MediaPipe's face mesh (face_landmark.tflite, mediapipe 0.10.21), its 468 vertices
  mapped to the 68 iBUG points by the vertex closest on average over the training faces.
- These photos are small faces (about 37-60 px wide); errors on larger webcam faces are lower in
  pixels of the face but were not measured against an annotation here.
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``liveness`` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="liveness", description="Face-liveness check: a "
                                     "texture network and motion that fails closed (OpenCV "
                                     "reference path; the TensorFlow graph for export, parity "
                                     "and bench).")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="verdict for one or more videos")
    check.add_argument("videos", nargs="+", metavar="VIDEO",
                       help="video file, or synthetic:live / synthetic:photo / synthetic:screen")
    _add_config_arguments(check)
    check.add_argument("--json", type=Path, help="write the verdict with its evidence here; "
                       "'-' prints it on stdout (the verdict lines then go to stderr)")
    check.add_argument("--report", type=Path, help="write the report picture (PNG) here")
    check.add_argument("--out-dir", type=Path, help="write <clip>.json and <clip>.png per clip")
    check.add_argument("--quiet", action="store_true", help="no progress bar (none is shown "
                       "when stderr is not a terminal either)")

    demo = sub.add_parser("demo", help="check the built-in synthetic clips (no data needed)")
    _add_config_arguments(demo)
    demo.add_argument("--out-dir", type=Path, default=Path("out/demo"))
    demo.add_argument("--quiet", action="store_true")

    landmarks = sub.add_parser("eval-landmarks", help="landmark backends vs dlib's annotations")
    from liveness.paths import shared_data

    landmarks.add_argument("--data", type=Path, default=shared_data() / "dlib_faces")
    landmarks.add_argument("--out", type=Path, help="write the Markdown page here")

    sub.add_parser("fetch-facemesh", help="download MediaPipe's face mesh (1.2 MB) and BlazeFace "
                   "(230 KB) models")

    evaluate = sub.add_parser("evaluate", help="per-clip APCER/BPCER/ACER on a labelled manifest")
    evaluate.add_argument("manifest", type=Path, help="CSV: file,label,attack_type,subject,...")
    evaluate.add_argument("--out", type=Path, required=True, help="folder for summary.json etc.")
    _add_evaluation_arguments(evaluate)

    calibrate = sub.add_parser("calibrate", help="pick the threshold on a manifest -> config file")
    calibrate.add_argument("manifest", type=Path)
    calibrate.add_argument("--out", type=Path, required=True,
                           help="calibrated config JSON (use with `liveness export --config`)")
    calibrate.add_argument("--target-apcer", type=float,
                           help="lowest BPCER with APCER at most this (default: equal error rate)")
    _add_evaluation_arguments(calibrate)

    bench = sub.add_parser("bench", help="latency of every path -> docs/benchmarks.md")
    bench.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"),
                       help="write the Markdown page here (default: %(default)s)")
    bench.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 160, 192, 256],
                       help="crop sizes to measure")
    bench.add_argument("--pairs", type=int, default=20, help="pairs timed per path and size")
    bench.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 256],
                       help="batch sizes of the throughput table")
    bench.add_argument("--model-dir", type=Path,
                       help="export folder: adds the LiteRT demo to the end-to-end table")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")

    export = sub.add_parser("export", help="SavedModel (TF Serving) + TFLite files + manifest")
    export.add_argument("--out", type=Path, required=True, help="output folder")
    export.add_argument("--preset", default="default", choices=PRESET_NAMES)
    export.add_argument("--config", type=Path, help="calibrated config from `liveness calibrate`")
    export.add_argument("--crop-size", type=int, help="crop side in px (default: the preset's, 160)")
    export.add_argument("--version", type=int, default=1, help="TF Serving version folder (>= 1)")
    export.add_argument("--pair-chunk", type=int, metavar="N",
                        help="pairs the SavedModel checks at a time in a larger batch (default "
                             "16, which suits a CPU; 0: every pair at once, for a GPU server)")
    export.add_argument("--xla", action="store_true",
                        help="compile the SavedModel's pair signatures with XLA (faster on a CPU; "
                             "TF Serving then needs --xla_cpu_compilation_enabled=true)")
    export.add_argument("--warmup-batches", type=int, nargs="*", metavar="N",
                        help="pair batch sizes TF Serving warms the model up with on load "
                             "(default: 1 8 16 64; none when given without a value)")

    parity = sub.add_parser("parity", help="TensorFlow graph vs OpenCV reference -> docs/parity.md")
    parity.add_argument("--clips", type=Path, default=shared_data() / "clips",
                        help="folder of real clips (skipped when absent; synthetic pairs always run)")
    parity.add_argument("--out", type=Path, default=Path("docs/parity.md"),
                        help="write the Markdown page here (default: %(default)s)")
    parity.add_argument("--per-clip", type=int, default=80, help="pairs sampled per clip")
    parity.add_argument("--preset", default="default", choices=PRESET_NAMES)
    parity.add_argument("--quiet", action="store_true")

    for command in sub.choices.values():
        command.add_argument("--verbose", action="store_true",
                             help="let TensorFlow's and the converter's own lines through")
    args = parser.parse_args(argv)
    if args.verbose:
        import liveness.quiet

        liveness.quiet.VERBOSE = True
    if hasattr(args, "quiet") and not sys.stderr.isatty():
        args.quiet = True   # progress bars only on a terminal: redirected output stays clean
    if args.command in ("export", "parity", "bench") or getattr(args, "backend", "") == "graph":
        from liveness.quiet import import_tensorflow

        import_tensorflow()
    try:
        if args.command in ("check", "demo"):
            cfg = build_config(args)
            videos = (args.videos if args.command == "check"
                      else [f"synthetic:{kind}" for kind in ("live", "photo", "screen")])
            run_check(videos, cfg, json_path=getattr(args, "json", None),
                      report_path=getattr(args, "report", None), out_dir=args.out_dir,
                      quiet=args.quiet)
            if args.command == "demo":
                print(f"reports and JSON in {args.out_dir}/\n{DEMO_NOTE}")
        elif args.command == "eval-landmarks":
            print(run_eval_landmarks(args.data, args.out))
        elif args.command == "parity":
            from liveness.parity import run

            _page, figures = run(args.clips, args.out, preset(args.preset), args.per_clip,
                                 _command_line(argv), quiet=args.quiet)
            for figure in figures:
                mark = "    " if figure.met is None else ("ok  " if figure.met else "MISS")
                target = "reported" if figure.met is None else f"target {figure.bound}"
                print(f"{mark} {figure.name}: {figure.shown} ({target})")
            print(f"written to {args.out}")
        elif args.command == "bench":
            from liveness.bench import run as run_bench

            print(run_bench(args.out, tuple(args.sizes), args.pairs, _command_line(argv),
                            args.model_dir, tuple(args.batches), quiet=args.quiet))
        elif args.command in ("evaluate", "calibrate"):
            run_evaluation(args)
        elif args.command == "export":
            from export.exporter import export_all

            calibration = None
            if args.config is not None:
                cfg, calibration = load_calibrated_config(args.config)
            else:
                cfg = preset(args.preset)
            if args.crop_size is not None:
                cfg = cfg.replace(crop_size=args.crop_size)
            from liveness.quiet import quiet_native_output

            if args.pair_chunk is not None and args.pair_chunk < 0:
                raise ValueError(f"--pair-chunk must be 0 (every pair at once) or a count of "
                                 f"pairs, got {args.pair_chunk}")
            print(f"exporting to {args.out} ...", file=sys.stderr, flush=True)
            with quiet_native_output():   # the converter prints dozens of lines
                options = {} if args.pair_chunk is None else {"pair_chunk": args.pair_chunk or None}
                if args.warmup_batches is not None:
                    options["warmup_batches"] = tuple(args.warmup_batches)
                result = export_all(args.out, cfg, args.version, calibration=calibration,
                                    xla=args.xla, **options)
            for path in (result.saved_model, result.tflite, result.tflite_fp16,
                         result.tflite_pair, result.texture, *result.mtcnn, result.manifest):
                print(f"wrote {path}")
        elif args.command == "fetch-facemesh":
            from liveness.landmarks.facemesh import fetch_model

            from liveness.blazeface import model_path as blazeface_path

            print(f"face mesh model written to {fetch_model()}, BlazeFace to {blazeface_path()}")
    except (ValueError, TypeError, OSError, ImportError) as error:
        print(f"liveness: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("liveness: interrupted", file=sys.stderr)
        return 130
    return 0


def run_evaluation(args: argparse.Namespace) -> None:
    """``evaluate``: metrics and plots; ``calibrate``: the threshold into a config file."""
    import hashlib
    import json

    from liveness.evaluate import (CALIBRATED, calibrate, calibrated_threshold, check_clips,
                                   leave_one_subject_out, metrics, read_manifest, with_threshold,
                                   write_outputs)

    cfg = build_config(args)
    rows = read_manifest(args.manifest)
    records = check_clips(rows, cfg, args.backend, args.model_dir, quiet=args.quiet)
    if args.command == "evaluate":
        summary = write_outputs(args.out, records, cfg, args.backend, calibrated_threshold(cfg),
                                args.manifest)
        loso = summary["leave_one_subject_out"]
        print(f"decision {cfg.decision}: ACER {_pct(summary['acer'])}, "
              f"APCER {_pct(summary['apcer'])}, "
              f"BPCER {_pct(summary['bpcer'])}, undecided {_pct(summary['undecided_rate'])} "
              f"of {len(records)} clips; "
              f"leave-one-subject-out ACER {_pct(loso['acer'])}")
        print(f"written to {args.out}/ (summary.json, clips.csv, det.png)")
        return
    if cfg.decision not in CALIBRATED:
        raise ValueError(f"decision {cfg.decision!r} has no threshold to calibrate; use one of "
                         f"{', '.join(CALIBRATED)}")
    threshold = calibrate(records, cfg, args.target_apcer)
    calibrated = with_threshold(cfg, threshold).replace(preset=f"{cfg.preset}+calibrated")
    chosen = metrics(records, calibrated)
    loso, _ = leave_one_subject_out(records, cfg, args.target_apcer)
    record = {
        "config": calibrated.to_dict(),
        "calibration": {
            "manifest": str(args.manifest),
            "manifest_sha256": hashlib.sha256(args.manifest.read_bytes()).hexdigest(),
            "clips": [r.file for r in records], "backend": args.backend,
            "method": "equal error rate" if args.target_apcer is None
            else f"lowest BPCER with APCER <= {args.target_apcer}",
            "field": CALIBRATED[cfg.decision][1],
            "threshold": threshold, "apcer": chosen.apcer, "bpcer": chosen.bpcer,
            "leave_one_subject_out_acer": loso.acer,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"threshold {threshold:.3f} (APCER {_pct(chosen.apcer)}, BPCER {_pct(chosen.bpcer)} on the "
          f"same clips; leave-one-subject-out ACER {_pct(loso.acer)}); written to {args.out}")


def load_calibrated_config(path: Path) -> tuple[LivenessConfig, dict]:
    """The config and calibration record of a `liveness calibrate` file."""
    import json

    data = json.loads(path.read_text())
    if "config" not in data or "calibration" not in data:
        raise ValueError(f"{path} is not a file written by `liveness calibrate`")
    return LivenessConfig(**data["config"]), data["calibration"]


def _command_line(argv: list[str] | None) -> str:
    """The command as typed, for the pages that record how they were generated."""
    return "liveness " + " ".join(argv if argv is not None else sys.argv[1:])


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{100 * value:.1f}%"


def _add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    _add_config_arguments(parser)
    parser.add_argument("--backend", choices=("opencv", "graph", "tflite"), default="opencv",
                        help="which implementation scores the pairs (default: %(default)s)")
    parser.add_argument("--model-dir", type=Path, help="export folder, for --backend tflite")
    parser.add_argument("--quiet", action="store_true")


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="default", choices=PRESET_NAMES,
                        help="parameter preset (default: %(default)s)")
    parser.add_argument("--detector", choices=DETECTORS,
                        help="face detector (default: the preset's, mtcnn); blazeface and auto "
                             "need `liveness fetch-facemesh`")
    parser.add_argument("--landmarks", choices=("template", "facemesh"),
                        help="68-point landmark backend (default: the preset's, template)")
    parser.add_argument("--threshold", type=float,
                        help="override the preset's chi-square threshold (0..200)")
    parser.add_argument("--texture-threshold", type=float,
                        help="override the preset's texture threshold (real-face probability, 0..1)")
    parser.add_argument("--decision", choices=DECISIONS,
                        help="which cue decides: chi_square, motion, texture or fused (default: "
                             "the preset's)")
    parser.add_argument("--frame-step", type=int,
                        help="pairs are frames (t, t + step) (default: the preset's, 1)")
