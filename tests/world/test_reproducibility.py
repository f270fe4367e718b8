"""Cross-machine reproducibility of the synthetic world: a tiny world is generated in fresh processes with
the CPU-dependent code paths varied (numpy's SIMD dispatch, OpenBLAS's kernel, OpenCV's SIMD dispatch and
``setUseOptimized``, x264's assembly, thread and worker counts); every output file must be byte-identical.
These are the switches a machine without AVX-512 / AVX2 (or with more cores) would flip by itself."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import hashlib, json, os, sys
from pathlib import Path

def main():
    out, workers, slow = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "slow"
    import cv2
    import numpy as np
    from replaylab import params as P
    from replaylab.world import video
    from replaylab.world.synthesize import generate
    if slow:
        cv2.setUseOptimized(False)
        video.X264_PARAMS += ":asm=0"
    (out / "params.yaml").write_text(sys.argv[4].replace("WORKERS", str(workers)))
    generate(P.load(None, out / "params.yaml"), out_dir=out / "world", progress=False)
    from numpy._core._multiarray_umath import __cpu_features__ as npf
    files = {str(f.relative_to(out / "world")): hashlib.sha256(f.read_bytes()).hexdigest()
             for f in sorted((out / "world").rglob("*")) if f.is_file()}
    print(json.dumps({"files": files, "numpy_avx2": bool(npf.get("X86_V3", npf.get("AVX2"))),
                      "cv2_optimized": cv2.useOptimized(), "cv2_features": cv2.getCPUFeaturesLine(),
                      "x264": video.X264_PARAMS}))

if __name__ == "__main__":
    main()
"""

TINY = """\
seed: 11
synthesize:
  workers: WORKERS
  matches: {count: 1, duration_s: 10, width: 320, height: 180}
  fouls: {splits: {train: 2, valid: 1, test: 1}, clip_frames: 24, contact_frame: 12, width: 128, height: 72}
  recognition: {classes: [Header, Kick], groups: 2, clips_per_group: 1, test_groups: 1, frames: 12, width: 96, height: 72}
  actions: {val_matches: 0}
  header_clips: {frames: 8, size: 32, crop_px: 64}
  contact_sheets: {examples: 1, steps: 2}
"""

OPENCV_FEATURES = "SSE4.1,SSE4.2,AVX,FP16,AVX2,AVX_VNNI,AVX512-SKX,AVX512-CLX"


def _generate(tmp: Path, name: str, *, workers: int = 1, slow: bool = False, env: dict | None = None) -> dict:
    out = tmp / name
    out.mkdir()
    script = tmp / "gen.py"
    script.write_text(SCRIPT)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NPY_", "OPENCV_", "OPENBLAS_", "OMP_"))}
    base["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), base.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(script), str(out), str(workers), "slow" if slow else "fast", TINY],
                          env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_world_bytes_do_not_depend_on_cpu_features_threads_or_workers(tmp_path):
    ref = _generate(tmp_path, "reference", env={"OMP_NUM_THREADS": "1"})
    plain = _generate(tmp_path, "plain_cpu", slow=True, env={
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",  # numpy: baseline SSE4.2 loops only
        "OPENBLAS_CORETYPE": "Prescott", "OPENCV_CPU_DISABLE": OPENCV_FEATURES, "OMP_NUM_THREADS": "1",
    })  # fmt: skip
    threads = _generate(tmp_path, "threads", workers=2, env={"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})
    # the switches took effect
    assert not plain["numpy_avx2"] and not plain["cv2_optimized"] and plain["x264"].endswith(":asm=0")
    assert "AVX2?" in plain["cv2_features"] or "AVX2" not in ref["cv2_features"]
    videos = [f for f in ref["files"] if f.endswith(".mp4")]
    assert len(videos) >= 10 and any(f.startswith("matches/") for f in videos)
    for other in (plain, threads):
        assert other["files"].keys() == ref["files"].keys()
        # manifest.json records the params, and so the worker count itself
        differ = sorted(f for f in ref["files"] if other["files"][f] != ref["files"][f] and f != "manifest.json")
        assert not differ, f"{len(differ)} files differ, e.g. {differ[:5]}"


def test_x264_settings_are_deterministic():
    from replaylab.world import video

    opts = dict(kv.split("=") for kv in video.X264_PARAMS.split(":"))
    assert opts == {"threads": "1", "lookahead-threads": "1", "sliced-threads": "0", "deterministic": "1", "cpu-independent": "1"}


def test_pitch_warp_is_integer_exact_and_close_to_opencv():
    import cv2
    import numpy as np

    from replaylab.world.render import STAND_RGB, warp_maps, warp_pitch

    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (9, 9), 3)
    h = np.array([[0.6, 0.05, 10.2], [0.01, 0.5, -3.3], [0.0004, 0.0009, 1.0]])
    mine = warp_pitch(tex, h, 160, 90)
    # reference: the same fixed-point positions blended in plain integer numpy
    xy, frac = warp_maps(h, 160, 90, tex.shape)
    pad = np.empty((tex.shape[0] + 4, tex.shape[1] + 4, 3), np.int64)
    pad[:] = STAND_RGB
    pad[2:-2, 2:-2] = tex
    x0, y0 = xy[..., 0].astype(np.int64) + 2, xy[..., 1].astype(np.int64) + 2
    fx, fy = (frac % 32)[..., None].astype(np.int64), (frac // 32)[..., None].astype(np.int64)
    top = pad[y0, x0] * (32 - fx) + pad[y0, x0 + 1] * fx
    bottom = pad[y0 + 1, x0] * (32 - fx) + pad[y0 + 1, x0 + 1] * fx
    ref = (top * (32 - fy) + bottom * fy + 512) >> 10
    assert np.abs(mine.astype(np.int64) - ref).max() <= 1  # remap's 15-bit weights vs 10-bit here
    cv2.setUseOptimized(False)
    try:
        assert np.array_equal(warp_pitch(tex, h, 160, 90), mine)
    finally:
        cv2.setUseOptimized(True)
    cv = cv2.warpPerspective(tex, h, (160, 90), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=STAND_RGB)
    assert np.abs(cv.astype(int) - mine.astype(int)).max() <= 2


def test_light_drift_is_exact():
    import numpy as np

    from replaylab.world.render import Look, light_lut

    look = Look(light_drift=0.06, light_period_s=7.0, light_phase=0.3)
    lut = light_lut(look, 40, 25.0)
    assert lut.dtype == np.uint8 and lut.shape == (256,) and lut[0] == 0 and np.all(np.diff(lut.astype(int)) >= 0)
    gain = float(lut[200]) / 200
    assert abs(gain - (1 + 0.06 * np.sin(2 * np.pi * 40 / (25.0 * 7.0) + 0.3))) < 0.01
    assert hashlib.sha256(lut.tobytes()).hexdigest() == hashlib.sha256(light_lut(look, 40, 25.0).tobytes()).hexdigest()
