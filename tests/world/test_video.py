import numpy as np
import pytest
from spec_readers import probe_video

from replaylab.world.video import Mp4Writer, VideoSettings


def test_h264_roundtrip_frames_fps_and_keyframes(tmp_path):
    path = tmp_path / "v.mp4"
    with Mp4Writer(path, 64, 48, VideoSettings(fps=25.0, gop=5)) as w:
        for i in range(23):
            w.write(np.full((48, 64, 3), i * 10, np.uint8))
    n, fps, width, height, keys = probe_video(path)
    assert (n, fps, width, height) == (23, 25.0, 64, 48)
    assert keys == [0, 5, 10, 15, 20]
    assert not list(tmp_path.glob(".*tmp*"))


def test_bad_frames_and_odd_sizes_fail_and_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="even frame sizes"):
        Mp4Writer(tmp_path / "odd.mp4", 63, 48, VideoSettings())
    with pytest.raises(ValueError, match=r"frame 0 has shape \(10, 10, 3\)"):
        with Mp4Writer(tmp_path / "bad.mp4", 64, 48, VideoSettings()) as w:
            w.write(np.zeros((10, 10, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
