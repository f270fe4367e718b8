"""The shared bad-row checks: events outside a span, the drop tally, and the switch's values."""

import numpy as np
import pytest

from replaylab.data.rowchecks import BadRows, check_events, check_tracking
from replaylab.data.samples import AdapterError


def test_events_outside_the_span_fail_with_the_row_or_drop_with_a_count():
    frames = np.array([-1, 0, 50, 99, 100])
    with pytest.raises(
        AdapterError, match=r"events\.csv, row 12: event at frame -1 is outside the video \(frames 0-99\) \(2 such"
    ):
        check_events("events.csv", frames, first=0, last=99, span="the video", rows=np.array([12, 13, 14, 15, 16]))
    tally = BadRows()
    keep = check_events("events.csv", frames, first=0, last=99, span="the video", on_bad_rows="drop", tally=tally)
    assert keep.tolist() == [False, True, True, True, False]
    assert tally.as_metrics() == {"dropped_event_outside_span": 2, "dropped_rows": 2}
    assert tally.examples[1] == "events.csv, row 6: event at frame 100 outside the video"


def test_unknown_switch_value_is_an_error():
    with pytest.raises(ValueError, match="on_bad_rows must be one of"):
        check_events("e.csv", np.array([5]), first=0, last=1, span="s", on_bad_rows="skip")


def test_missing_heights_are_fine_and_fps_is_inferred():
    n = 10
    f = np.arange(n, dtype=float)
    keep = check_tracking("t.csv", frame=f, time=f / 25, track_id=np.zeros(n), x=f, y=f, z=np.full(n, np.nan))
    assert keep.all()
    t = f / 25
    t[4] = 1.0  # frame 4 at 1 s: 21 frames off
    with pytest.raises(AdapterError, match=r"t\.csv, row 6: time 1 s disagrees with frame 4 / 25 fps"):
        check_tracking("t.csv", frame=f, time=t, track_id=np.zeros(n), x=f, y=f, z=f)
