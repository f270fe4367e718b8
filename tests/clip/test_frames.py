"""frames_to_input (uint8 clips -> normalised CLIP input) and pick_frames (evenly spread indices per view)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from replaylab.clip.frames import OPENAI_MEAN, OPENAI_STD, frames_to_input, pick_frames


def _solid(rgb: tuple[int, int, int], *, n: int = 2, t: int = 3, h: int = 20, w: int = 30) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (n, t, h, w, 3)).copy()


def test_mean_and_std_are_openai_s():
    assert OPENAI_MEAN == tuple(OPENAI_DATASET_MEAN) and OPENAI_STD == tuple(OPENAI_DATASET_STD)


def test_solid_frames_are_resized_and_normalised_per_channel():
    out = frames_to_input(clips=_solid((255, 0, 51)), image_size=16)
    assert out.shape == (2, 3, 3, 16, 16) and out.dtype == torch.float32
    expected = (torch.tensor([1.0, 0.0, 0.2]) - torch.tensor(OPENAI_MEAN)) / torch.tensor(OPENAI_STD)
    torch.testing.assert_close(out.mean(dim=(0, 1, 3, 4)), expected)
    torch.testing.assert_close(out.amax(dim=(0, 1, 3, 4)), out.amin(dim=(0, 1, 3, 4)))  # a constant stays constant


def test_numpy_and_torch_inputs_agree_and_frames_keep_their_order():
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, size=(2, 4, 8, 8, 3), dtype=np.uint8)
    a = frames_to_input(clips=clips, image_size=8)
    b = frames_to_input(clips=torch.from_numpy(clips), image_size=(8, 8))
    assert torch.equal(a, b)
    mean, std = torch.tensor(OPENAI_MEAN).view(3, 1, 1), torch.tensor(OPENAI_STD).view(3, 1, 1)
    frame = torch.from_numpy(clips[1, 2]).permute(2, 0, 1).float() / 255  # same size: no resampling
    torch.testing.assert_close(a[1, 2], (frame - mean) / std)


def test_resize_is_antialiased():
    stripes = np.zeros((1, 1, 32, 32, 3), dtype=np.uint8)
    stripes[:, :, :, ::4] = 255  # every 4th column white: a 4x shrink averages to 1/4 (plain bilinear samples 0 here)
    out = frames_to_input(clips=stripes, image_size=8)[0, 0, 0] * OPENAI_STD[0] + OPENAI_MEAN[0]
    torch.testing.assert_close(out[:, 1:-1], torch.full((8, 6), 0.25), atol=0.03, rtol=0)


def test_bad_clips_are_rejected():
    with pytest.raises(ValueError, match=r"\(N, T, H, W, 3\)"):
        frames_to_input(clips=np.zeros((3, 8, 8, 3), dtype=np.uint8), image_size=8)
    with pytest.raises(ValueError, match="uint8"):
        frames_to_input(clips=np.zeros((1, 3, 8, 8, 3), dtype=np.float32), image_size=8)


@pytest.mark.parametrize(
    ("total", "frames", "view", "views", "expected"),
    [
        (16, 4, 0, 1, [2, 6, 10, 14]),  # centred in each stride of 4
        (16, 4, 0, 2, [1, 5, 9, 13]),
        (16, 4, 1, 2, [3, 7, 11, 15]),
        (8, 8, 0, 1, list(range(8))),
        (10, 3, 0, 1, [1, 5, 8]),
        (5, 1, 0, 1, [2]),
    ],
)
def test_pick_frames(total, frames, view, views, expected):
    assert pick_frames(total=total, frames=frames, view=view, views=views) == expected


def test_pick_frames_stays_in_range_and_increasing():
    for total in range(1, 40):
        for frames in range(1, total + 1):
            for views in (1, 2, 3):
                for view in range(views):
                    idx = pick_frames(total=total, frames=frames, view=view, views=views)
                    assert len(idx) == frames and idx[0] >= 0 and idx[-1] < total
                    assert all(b > a for a, b in zip(idx, idx[1:]))


def test_pick_frames_errors():
    with pytest.raises(ValueError, match="cannot pick 9 distinct frames from a clip of 8"):
        pick_frames(total=8, frames=9)
    with pytest.raises(ValueError, match=r"view must be in 0..1"):
        pick_frames(total=8, frames=2, view=2, views=2)
