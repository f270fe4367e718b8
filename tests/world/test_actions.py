import numpy as np

from replaylab.world.actions import ACTION_LABEL_IDS, PERSON_ACTIONS, labels_at
from replaylab.world.skeleton import ACTION_ID, NO_ACTION


def test_labels_combine_movement_and_actions():
    n = 50
    action = np.full(n, NO_ACTION, np.int16)
    speed = np.full(n, 4.0)
    lift = np.zeros(n)
    assert labels_at(action, speed, lift, 25, 7) == [ACTION_LABEL_IDS["run/jog"]]
    action[20:30] = ACTION_ID["head"]
    lift[22:28] = 0.3
    got = labels_at(action, speed, lift, 25, 7)
    assert set(got) == {ACTION_LABEL_IDS["run/jog"], ACTION_LABEL_IDS["head the ball"], ACTION_LABEL_IDS["jump/leap"]}


def test_lying_player_has_no_gait_label_and_window_limits_actions():
    n = 50
    action = np.full(n, NO_ACTION, np.int16)
    action[10:40] = ACTION_ID["fall"]
    assert labels_at(action, np.zeros(n), np.zeros(n), 25, 7) == [ACTION_LABEL_IDS["fall down"]]
    action2 = np.full(n, NO_ACTION, np.int16)
    action2[0:5] = ACTION_ID["kick"]
    assert labels_at(action2, np.zeros(n), np.zeros(n), 25, 7) == [ACTION_LABEL_IDS["stand"]]


def test_label_ids_are_dense_and_typed():
    assert sorted(ACTION_LABEL_IDS.values()) == list(range(1, len(PERSON_ACTIONS) + 1))
    assert {t for _, t in PERSON_ACTIONS} <= {"PERSON_MOVEMENT", "OBJECT_MANIPULATION", "PERSON_INTERACTION"}
