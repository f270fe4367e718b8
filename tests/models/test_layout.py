import torch
from torch import nn

from replaylab.models.i3d import build_i3d
from replaylab.models.layout import channels_last_3d


def test_conv3d_weights_go_channels_last_and_outputs_stay_equal():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 4, (1, 3, 3)), nn.Flatten(2),
                          nn.Linear(4 * 6 * 6, 5)).eval()  # fmt: skip
    other = nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 4, 8, 8)
    with torch.no_grad():
        before = model(x)
        assert channels_last_3d(model) is model
        after = model(x)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last_3d) for m in convs)
    assert not convs[0].weight.is_contiguous()  # really moved, not a no-op
    channels_last_3d(other)  # no Conv3d: untouched, no error
    assert other.weight.is_contiguous()
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)


def test_i3d_features_equal_within_float_rounding():
    torch.manual_seed(1)
    net = build_i3d(frames=8, size=(32, 32), endpoint="Mixed_4f").eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        before = net(x)
        after = channels_last_3d(net)(x)
    torch.testing.assert_close(after.contiguous(), before, rtol=1e-4, atol=1e-4)
