"""The converted Kinetics-400 I3D on this machine: forward clips/s per input size and endpoint, and the top-5
Kinetics classes it gives for rendered football clips.

Speed: ``--batch`` clips of 16 frames, random pixels, ``torch.inference_mode``, ``--threads`` threads, one
warm-up pass, then passes until ``--seconds`` have gone by (at least two); wall clock and process CPU time.
Top-5: each video's first 64 frames (fewer if shorter) resized so that the short side is 256 (bilinear),
centre 224 x 224 crop, RGB in [-1, 1] -- DeepMind's evaluation preprocessing -- through endpoint ``Logits``;
class names from torchvision's Kinetics-400 list (alphabetical, the order of the checkpoint's 400 outputs).

Usage: python benchmarks/i3d_kinetics.py [--weights models/pretrained/i3d_k400.pt] [--videos A.mp4 ...]
       [--threads 2] [--batch 8] [--seconds 4] [--out benchmarks/results]
Needs `replaylab weights fetch i3d_k400` (and, for the default videos, the synthetic world). Writes
i3d_kinetics.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import av  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torchvision.models.video import R3D_18_Weights  # noqa: E402

from replaylab.models import build_backbone, load_pretrained  # noqa: E402

SYN = "data/raw/synthetic"
VIDEOS = [f"{SYN}/ucf101/Kick/v_Kick_g01_c01.mp4", f"{SYN}/ucf101/Header/v_Header_g01_c01.mp4",
          f"{SYN}/mvfoul/valid/action_26/clip_0.mp4", f"{SYN}/ava/videos/match_000.mp4"]  # fmt: skip
SPEED = [(112, "Mixed_4f"), (112, "Mixed_5c"), (64, "Mixed_4f"), (64, "Mixed_5c")]


def speed(weights: str, *, batch: int, seconds: float) -> list[dict]:
    rows = []
    for size, endpoint in SPEED:
        model = build_backbone("i3d", frames=16, size=size, endpoint=endpoint)
        load_pretrained(model, weights)
        model.eval()
        x = torch.rand(batch, 3, 16, size, size) * 2 - 1
        with torch.inference_mode():
            y = model(x)
            n, t0, c0 = 0, time.perf_counter(), time.process_time()
            while n < 2 or time.perf_counter() - t0 < seconds:
                model(x)
                n += 1
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"input": f"16x{size}x{size}", "endpoint": endpoint, "map": list(y.shape[1:]), "clips": n * batch,
                     "clips_per_s": round(n * batch / wall, 2), "clips_per_cpu_s": round(n * batch / cpu, 2)})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def clip(path: str, frames: int = 64) -> torch.Tensor:
    with av.open(path) as container:
        decoded = []
        for frame in container.decode(video=0):
            decoded.append(frame.to_ndarray(format="rgb24"))
            if len(decoded) == frames:
                break
    x = torch.from_numpy(np.stack(decoded)).permute(3, 0, 1, 2).float() / 255.0
    h, w = x.shape[-2:]
    scale = 256 / min(h, w)
    x = F.interpolate(x, size=(round(h * scale), round(w * scale)), mode="bilinear", align_corners=False)
    top, left = (x.shape[-2] - 224) // 2, (x.shape[-1] - 224) // 2
    return (x[..., top : top + 224, left : left + 224] * 2 - 1).unsqueeze(0)


def top5(weights: str, videos: list[str]) -> list[dict]:
    names = R3D_18_Weights.KINETICS400_V1.meta["categories"]
    model = build_backbone("i3d", frames=64, size=224, endpoint="Logits")
    load_pretrained(model, weights)
    model.eval()
    rows = []
    for path in videos:
        x = clip(path)
        with torch.inference_mode():
            logits = model.logits_of(x)[0]
        p = logits.softmax(0)
        best = p.topk(5).indices.tolist()
        rows.append({"video": path, "frames": int(x.shape[2]),
                     "top5": [{"class": names[i], "p": round(float(p[i]), 3), "logit": round(float(logits[i]), 2)} for i in best]})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def markdown(result: dict) -> str:
    lines = [f"I3D Kinetics-400 ({result['weights']}), {result['threads']} threads, batch {result['batch']}, "
             f"load average at start {result['load_average']}", "",
             "| input | endpoint | map (C, T, H, W) | clips/s | clips per CPU-second |", "|---|---|---|---:|---:|"]  # fmt: skip
    for r in result["speed"]:
        lines.append(f"| {r['input']} | {r['endpoint']} | {tuple(r['map'])} | {r['clips_per_s']} | {r['clips_per_cpu_s']} |")
    lines += ["", "| video | frames | top-5 Kinetics-400 classes (softmax p) |", "|---|---:|---|"]
    for r in result["top5"]:
        lines.append(f"| {r['video']} | {r['frames']} | " + "; ".join(f"{t['class']} {t['p']:.3f}" for t in r["top5"]) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="models/pretrained/i3d_k400.pt")
    ap.add_argument("--videos", nargs="*", default=VIDEOS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = {"weights": args.weights, "threads": args.threads, "batch": args.batch, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_average": [round(v, 2) for v in os.getloadavg()]}  # fmt: skip
    result["speed"] = speed(args.weights, batch=args.batch, seconds=args.seconds)
    result["top5"] = top5(args.weights, args.videos)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "i3d_kinetics.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "i3d_kinetics.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
