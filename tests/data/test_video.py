from fractions import Fraction

import av
import av.logging
import numpy as np
import pytest
from video_fixtures import decode_index, index_pattern, make_audio_only, make_packed_avi, make_video, sequential_decode

from replaylab.data.video import (
    VideoInfo,
    VideoReadError,
    clip_times,
    crop_resize,
    display_ranks,
    frame_times,
    probe,
    read_frames,
    uniform_times,
)


def indices(frames: np.ndarray) -> list[int]:
    return [decode_index(f) for f in frames]


def expected(true_times, ts) -> list[int]:
    """Index of the frame displayed at each t: the last frame starting at or before t (t < 0 -> frame 0)."""
    return [max(int(np.searchsorted(true_times, t + 1e-6, side="right")) - 1, 0) for t in ts]


# name, codec, fps, size (w, h): one per container/codec pair the cache must read
MATRIX = [
    ("h264.mp4", "libx264", 25, (96, 64)),
    ("mpeg4.avi", "mpeg4", Fraction(30000, 1001), (130, 74)),
    ("msmpeg4v2.avi", "msmpeg4v2", 10, (96, 64)),
    ("vp9.mkv", "libvpx-vp9", 30, (130, 74)),
    ("vp9.webm", "libvpx-vp9", 50, (96, 64)),
    ("av1.mkv", "libsvtav1", 25, (96, 64)),
]
N = 40


@pytest.fixture(scope="module")
def matrix_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    out = {}
    for name, codec, fps, size in MATRIX:
        path = root / name
        out[name] = (path, make_video(path, codec=codec, fps=fps, n_frames=N, size=size, gop=12))
    return out


@pytest.mark.parametrize(("name", "codec", "fps", "size"), MATRIX, ids=[m[0] for m in MATRIX])
def test_codec_container_matrix(matrix_videos, name, codec, fps, size):
    path, true_times = matrix_videos[name]
    info = probe(path)
    assert isinstance(info, VideoInfo)
    assert (info.n_frames, info.width, info.height) == (N, *size)
    assert info.fps == pytest.approx(float(fps), rel=1e-6)
    assert info.duration_s == pytest.approx(N / float(fps), abs=1.5e-3)
    assert not info.vfr
    assert info.codec == {"libx264": "h264", "libvpx-vp9": "vp9", "libsvtav1": "av1"}.get(codec, codec)

    ft = frame_times(path)
    assert ft.shape == (N,) and ft[0] == 0.0
    np.testing.assert_allclose(ft, np.arange(N) / float(fps), atol=1e-3)
    np.testing.assert_allclose(ft, true_times, atol=1e-3)

    # unsorted, repeated, exactly on a stored frame time, just before one, first and last frame, midpoints
    ts = [ft[N - 1], 0.0, ft[17], ft[17] - 1e-4, ft[5] + 0.5 / float(fps), ft[30], 0.0, ft[17], ft[2]]
    frames = read_frames(path, ts)
    assert frames.shape == (len(ts), size[1], size[0], 3) and frames.dtype == np.uint8
    assert indices(frames) == [N - 1, 0, 17, 16, 5, 30, 0, 17, 2]
    assert indices(frames) == expected(ft, ts)


@pytest.fixture(scope="module")
def packed_avi(tmp_path_factory):
    path = tmp_path_factory.mktemp("packed") / "divx_packed.avi"
    return path, make_packed_avi(path, n_frames=40, gop=12, b_frames=2)


def test_packed_fixture_is_what_ffmpeg_calls_packed(packed_avi):
    path, _ = packed_avi
    with av.logging.Capture() as logs:
        old = av.logging.get_level()
        av.logging.set_level(av.logging.INFO)
        try:
            with av.open(str(path)) as container:
                pts = [p.pts for p in container.demux(video=0) if p.size]
            with av.open(str(path)) as container:
                n = sum(1 for _ in container.decode(video=0))
        finally:
            av.logging.set_level(old)
    assert any("packed B-frames" in message for _, _, message in logs)
    assert pts[:7] == [1, 3, 2, 4, 6, 5, 7]  # the demuxer's timestamps are not the display order
    assert n == 40


@pytest.mark.parametrize("case", [m[0] for m in MATRIX] + ["bframes.mp4", "bframes.avi", "divx_packed.avi"], ids=lambda c: c)
def test_every_frame_matches_sequential_decode(matrix_videos, packed_avi, tmp_path, case):
    """frame_times()[i] reads back exactly the i-th frame a player shows, pixel for pixel, in any request order."""
    if case in matrix_videos:
        path, _ = matrix_videos[case]
    elif case == "divx_packed.avi":
        path, _ = packed_avi
    else:
        path = tmp_path / case
        make_video(path, codec="libx264" if case.endswith("mp4") else "mpeg4", fps=25, n_frames=40, gop=12, b_frames=2)
    shown = sequential_decode(path)
    assert [decode_index(f) for f in shown] == list(range(len(shown)))
    ft = frame_times(path)
    assert len(ft) == len(shown) == probe(path).n_frames
    frames = read_frames(path, ft)
    for i, (got, want) in enumerate(zip(frames, shown, strict=True)):
        np.testing.assert_array_equal(got, want, err_msg=f"{case} frame {i}")
    rng = np.random.default_rng(0)
    picks = rng.permutation(len(ft))[:12].tolist() + [0, len(ft) - 1]
    for k in picks:  # one seek per read: every keyframe neighbourhood, frame 0 and the last frame
        np.testing.assert_array_equal(read_frames(path, [ft[k]])[0], shown[k], err_msg=f"{case} frame {k} alone")


def test_display_ranks_reorder_b_frames():
    # decode order I P B B P B B I B B P -> shown 0 3 1 2 6 4 5 9 7 8 10
    assert display_ranks(list("IPBBPBBIBBP")) == [0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 10]
    assert display_ranks(list("IPPP")) == [0, 1, 2, 3]
    assert display_ranks(list("IPB")) == [0, 2, 1]
    assert display_ranks([]) == []
    # a packed AVI demuxes with pts 1 3 2 4 6 5 ...: ordering by them misplaces every B-frame pair; ranks do not
    types = list("IPBBPBBPBB")
    demuxed_pts = [1, 3, 2, 4, 6, 5, 7, 9, 8, 10]
    ranks = display_ranks(types)
    assert sorted(ranks) == list(range(10))
    assert [r + 1 for r in ranks] != demuxed_pts
    assert [types[ranks.index(k)] for k in range(4)] == ["I", "B", "B", "P"]
    with pytest.raises(ValueError, match="unknown coding type 'X' at frame 1"):
        display_ranks(["I", "X"])


@pytest.mark.parametrize("suffix", ["mkv", "mp4"])
def test_variable_frame_rate(tmp_path, suffix):
    gaps = [0.02 if i % 2 else 0.06 for i in range(29)]
    pts = np.concatenate([[0.0], np.cumsum(gaps)]).tolist()
    path = tmp_path / f"vfr.{suffix}"
    true_times = make_video(path, pts_seconds=pts, size=(96, 64))
    info = probe(path)
    assert info.vfr and info.n_frames == 30
    ft = frame_times(path)
    np.testing.assert_allclose(ft, true_times, atol=1e-6)
    ts = [true_times[3], true_times[3] + 0.05, true_times[4] - 0.001, true_times[20], 0.43, 0.0, true_times[29]]
    assert indices(read_frames(path, ts)) == expected(true_times, ts)


@pytest.mark.parametrize(
    ("name", "codec", "b_frames"),
    [("bframes.mp4", "libx264", 3), ("bframes.avi", "mpeg4", 2)],
)
def test_b_frames_timing_and_seeks(tmp_path, name, codec, b_frames):
    """Reordered streams: AVI+MPEG-4 with B-frames starts its pts at 1, not 0; MP4 keyframes decode ahead of their pts."""
    path = tmp_path / name
    true_times = make_video(path, codec=codec, fps=25, n_frames=60, gop=12, b_frames=b_frames)
    info = probe(path)
    assert info.n_frames == 60 and not info.vfr
    np.testing.assert_allclose(frame_times(path), true_times, atol=1e-6)
    for k in (0, 11, 12, 13, 24, 35, 36, 59):  # around every keyframe
        ts = [true_times[k], true_times[k] + 0.01]
        assert indices(read_frames(path, ts)) == [k, k]


def test_seek_decodes_only_the_neighbourhood(tmp_path):
    path = tmp_path / "long.mp4"
    true_times = make_video(path, n_frames=300, gop=12, size=(96, 64))
    ts = clip_times(center_s=true_times[290], frames=4, step_s=0.04)
    stats: dict = {}
    frames = read_frames(path, ts, stats=stats)
    assert indices(frames) == [288, 289, 290, 291]
    assert stats["decoded"] < 30, stats  # first frame + one GOP, not 300
    assert stats["seeks"] == 1


def test_times_before_start_clamp_and_past_end_raise(tmp_path):
    path = tmp_path / "short.mp4"
    make_video(path, n_frames=20, fps=25)  # frames at 0..0.76 s, ends at 0.80 s
    assert indices(read_frames(path, [-3.0, -1e-9, 0.79, 0.80, 0.815])) == [0, 0, 19, 19, 19]
    with pytest.raises(VideoReadError, match=r"short\.mp4.*t=0\.830 s beyond the end \(0\.800 s\)"):
        read_frames(path, [0.1, 0.83])
    with pytest.raises(VideoReadError, match=r"t=9\.000 s beyond the end"):
        read_frames(path, [0.81, 9.0])  # one request within the tolerance does not excuse a later one
    with pytest.raises(VideoReadError, match=r"short\.mp4.*t=9\.000 s beyond the end"):
        read_frames(path, [9.0])
    with pytest.raises(VideoReadError, match="finite"):
        read_frames(path, [float("nan")])


def test_crop_and_resize_applied_per_frame(tmp_path):
    path = tmp_path / "crop.mp4"
    make_video(path, n_frames=5, size=(96, 64))
    full = read_frames(path, [0.04, 0.12])
    assert full.shape == (2, 64, 96, 3)
    cropped = read_frames(path, [0.04, 0.12], crop_center=(10, 10), crop_px=32)
    np.testing.assert_array_equal(cropped, full[:, 0:32, 0:32])
    small = read_frames(path, [0.04], crop_px=48, size=(24, 24))
    assert small.shape == (1, 24, 24, 3) and small.dtype == np.uint8
    assert read_frames(path, [], crop_px=48, size=(24, 20)).shape == (0, 24, 20, 3)
    assert read_frames(path, []).shape == (0, 64, 96, 3)


def test_crop_window_can_move_frame_by_frame(tmp_path):
    path = tmp_path / "moving.mp4"
    make_video(path, n_frames=5, size=(96, 64))
    times = [0.04, 0.04, 0.12]  # the same frame twice, with two different windows
    full = read_frames(path, times)
    moving = read_frames(path, times, crop_centers=[(10, 10), (60, 40), (200, 10)], crop_px=32)
    np.testing.assert_array_equal(moving[0], full[0, 0:32, 0:32])
    np.testing.assert_array_equal(moving[1], full[1, 24:56, 44:76])
    np.testing.assert_array_equal(moving[2], full[2, 0:32, 64:96])  # kept inside the frame
    with pytest.raises(ValueError, match="2 crop centres for 3 times"):
        read_frames(path, times, crop_centers=[(1, 1), (2, 2)], crop_px=32)


# ---------------------------------------------------------------- failures


def test_truncated_mp4_raises_naming_file(tmp_path):
    path = tmp_path / "cut_faststart.mp4"  # index (moov) first: opens, but the frames near the end are gone
    make_video(path, n_frames=125, container_options={"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    assert indices(read_frames(path, [0.4, 1.0])) == [10, 25]  # what is still there reads fine
    with pytest.raises(
        VideoReadError, match=r"cut_faststart\.mp4: codec h264: truncated: decoding stopped at t=\d\.\d+ s \(frame \d+\)"
    ):
        read_frames(path, [4.5, 4.6])
    with pytest.raises(VideoReadError, match=r"cut_faststart\.mp4.*truncated"):
        probe(path)

    path = tmp_path / "cut.mp4"  # index at the end: cannot even be opened
    make_video(path, n_frames=125)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(VideoReadError, match=r"cut\.mp4: cannot open"):
        read_frames(path, [4.5])


def test_garbage_missing_and_audio_only_files(tmp_path):
    garbage = tmp_path / "noise.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError, match=r"noise\.mp4"):
        probe(garbage)
    with pytest.raises(VideoReadError, match=r"noise\.mp4"):
        read_frames(garbage, [0.0])

    missing = tmp_path / "missing.mkv"
    for call in (lambda: probe(missing), lambda: frame_times(missing), lambda: read_frames(missing, [0.0])):
        with pytest.raises(VideoReadError, match=r"missing\.mkv: file not found"):
            call()

    audio = tmp_path / "sound.wav"
    make_audio_only(audio)
    with pytest.raises(VideoReadError, match=r"sound\.wav: no video stream"):
        probe(audio)
    with pytest.raises(VideoReadError, match=r"sound\.wav: no video stream"):
        read_frames(audio, [0.0])


def test_stream_without_timestamps_fails_clearly(tmp_path):
    path = tmp_path / "raw.h264"  # Annex B elementary stream: packets and frames carry no pts/dts
    make_video(path, n_frames=10)
    with pytest.raises(VideoReadError, match=r"raw\.h264: codec h264: frame 0 has no timestamp"):
        probe(path)
    with pytest.raises(VideoReadError, match=r"raw\.h264: codec h264: the first frame has no timestamp"):
        read_frames(path, [0.0])


# ---------------------------------------------------------------- crop_resize


@pytest.fixture
def coords():
    """20 x 30 frame whose pixel (y, x) holds (y, x, 0)."""
    y, x = np.mgrid[0:20, 0:30]
    return np.stack([y, x, np.zeros_like(y)], axis=-1).astype(np.uint8)


def window(out: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, x0, h, w) of a crop of the coords frame."""
    return int(out[0, 0, 0]), int(out[0, 0, 1]), out.shape[0], out.shape[1]


def test_crop_resize_full_frame_and_centre(coords):
    np.testing.assert_array_equal(crop_resize(coords), coords)
    assert window(crop_resize(coords, crop_center=(15, 10), crop_px=8)) == (6, 11, 8, 8)
    assert window(crop_resize(coords, crop_px=10)) == (5, 10, 10, 10)  # centred square
    assert window(crop_resize(coords, crop_center=(15, 10))) == (0, 5, 20, 20)  # side defaults to min(h, w)


@pytest.mark.parametrize(
    ("center", "window_yx"),
    [((0, 10), (6, 0)), ((29, 10), (6, 22)), ((15, 0), (0, 11)), ((15, 19), (12, 11)), ((-50, 99), (12, 0)), ((99, -5), (0, 22))],
    ids=["left", "right", "top", "bottom", "bottom-left-outside", "top-right-outside"],
)
def test_crop_resize_clamps_at_borders(coords, center, window_yx):
    out = crop_resize(coords, crop_center=center, crop_px=8)
    assert window(out) == (*window_yx, 8, 8)
    np.testing.assert_array_equal(out, coords[window_yx[0] : window_yx[0] + 8, window_yx[1] : window_yx[1] + 8])


def test_crop_resize_larger_than_frame_and_resize(coords):
    assert window(crop_resize(coords, crop_center=(3, 3), crop_px=100)) == (0, 0, 20, 20)  # clamped to min(h, w)
    assert window(crop_resize(coords, crop_center=(29, 3), crop_px=100)) == (0, 10, 20, 20)
    down = crop_resize(coords, crop_px=20, size=(10, 5))
    up = crop_resize(coords, crop_px=4, size=(16, 24))
    assert down.shape == (10, 5, 3) and up.shape == (16, 24, 3)
    assert down.dtype == up.dtype == np.uint8
    # INTER_AREA when shrinking: a 2x2 block mean; a flat frame stays flat both ways
    flat = np.full((8, 8, 3), 77, np.uint8)
    assert np.all(crop_resize(flat, size=(4, 4)) == 77) and np.all(crop_resize(flat, size=(13, 11)) == 77)
    bands = index_pattern(0b1010101010, (40, 8))
    assert crop_resize(bands, size=(4, 20))[:, :, 0].tolist()[0] == [0, 0, 255, 255] * 5


# ---------------------------------------------------------------- sampling helpers


def test_clip_times_and_uniform_times():
    np.testing.assert_allclose(clip_times(center_s=2.0, frames=5, step_s=0.1), [1.8, 1.9, 2.0, 2.1, 2.2])
    np.testing.assert_allclose(clip_times(center_s=1.0, frames=4, step_s=0.5), [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_allclose(clip_times(center_s=3.0, frames=1, step_s=9.0), [3.0])
    np.testing.assert_allclose(uniform_times(duration_s=10.0, frames=5), [1.0, 3.0, 5.0, 7.0, 9.0])
    np.testing.assert_allclose(uniform_times(duration_s=1.0, frames=1), [0.5])
    assert uniform_times(duration_s=4.0, frames=0).shape == (0,)


@pytest.mark.parametrize(("name", "codec"), [("cut.avi", "msmpeg4v2"), ("cut_mpeg4.avi", "mpeg4"), ("cut.mp4", "libx264")])
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.8, 0.9])
def test_truncated_files_are_reported_not_shortened(tmp_path, name, codec, keep):
    """A file cut inside its frame data is truncated for probe/frame_times (what the header promises is not there);
    the frames that remain still read back exactly."""
    path = tmp_path / name
    options = {"movflags": "faststart"} if name.endswith(".mp4") else None
    make_video(path, codec=codec, fps=25, n_frames=100, container_options=options)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    for call in (probe, frame_times):
        with pytest.raises(VideoReadError, match=rf"{name}: codec \w+: truncated: .*\(\d+ frames readable\)"):
            call(path)
    assert indices(read_frames(path, [0.0, 0.04])) == [0, 1]
    with pytest.raises(VideoReadError, match=rf"{name}: .*truncated: decoding stopped at .* should last 4\.000 s"):
        read_frames(path, [3.99])


def test_avi_with_only_its_index_cut_is_complete(tmp_path):
    path = tmp_path / "no_index.avi"
    make_video(path, codec="msmpeg4v2", fps=25, n_frames=50)
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"idx1") + 8])  # every frame is there; the trailing index is not
    assert probe(path).n_frames == 50
    assert indices(read_frames(path, frame_times(path))) == list(range(50))
