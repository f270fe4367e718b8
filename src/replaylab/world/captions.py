"""Text captions for the synthetic recognition clips: what the actor does, what he wears, where the camera is.

A caption combines three parts, each drawn from several wordings so that a contrastive text-video model
sees varied text for one clip: the action (one phrasing per class, never a word of another class's name),
the actor's kit (team 0 of the group setting; the shirt and sometimes the shorts, by the nearest named
colour) and the camera (distance, height and framing of the group setting, each cut into bands). A caption
always names the action; :data:`MENTIONS` lists which of the kit and the camera it names too (the synthetic
world writes captions of every kind and says which in ``captions.csv``'s ``mentions`` column).

:func:`replaylab.prompt.names.names_class` (imported here) tells whether a text names a class; the tests use it to
prove that no phrase names another class, and CLIP pretraining uses it to keep held-out classes out of its captions.
"""

from __future__ import annotations

import re

import numpy as np

from ..prompt.names import class_name_words, names_class, stem  # noqa: F401  (re-exported)

# Several phrasings per class, third person present ("a player ___"). A class's own phrases may use its
# own name words; none uses a word of another class's name (checked by tests/world/test_captions.py).
ACTION_PHRASES: dict[str, tuple[str, ...]] = {
    "Header": (
        "heads the ball",
        "wins a header",
        "nods the ball on with his head",
        "meets a high ball with his head",
        "flicks the ball on with a header",
        "rises to head the ball",
        "directs a lofted ball with the forehead",
    ),
    "Kick": (
        "kicks the ball",
        "strikes the ball hard",
        "hits a long ball forward",
        "takes a shot",
        "boots the ball upfield",
        "drives the ball away with the laces",
        "smashes the ball off the ground",
    ),
    "Tackle": (
        "tackles an opponent",
        "makes a sliding tackle",
        "slides in to win the ball",
        "lunges at an opponent with a sliding challenge",
        "goes to ground to take the ball off a rival",
        "sweeps the ball away from an opponent with a slide",
    ),
    "Dive": (
        "dives",
        "takes a dive",
        "goes down theatrically",
        "tumbles over appealing for a foul",
        "falls to the ground after barely any contact",
        "collapses dramatically under a challenge",
    ),
    "ThrowIn": (
        "takes a throw-in",
        "throws the ball back into play",
        "restarts play from the touchline with both hands",
        "launches a throw-in from the sideline",
        "returns the ball to play with two hands from the line",
        "hurls the ball in from the touchline",
    ),
    "Celebration": (
        "celebrates",
        "celebrates a goal",
        "jumps for joy",
        "punches the air in delight",
        "leaps about in celebration",
        "wheels away with both arms raised",
    ),
    "ChestControl": (
        "controls the ball on his chest",
        "chests the ball down",
        "cushions a high ball on the chest",
        "brings a dropping ball down with the chest",
        "takes the ball on the chest",
        "traps a lofted pass with his chest",
    ),
    "Dribble": (
        "dribbles the ball",
        "dribbles forward",
        "runs with the ball at his feet",
        "carries the ball forward with small touches",
        "weaves ahead with the ball close to his feet",
        "changes direction while running with the ball",
    ),
}

# Human names of colours: every KIT_PALETTE entry (render.py) plus the white / dark shorts; other colours
# take the name of the nearest entry (RGB distance). The first name is the plain one, the rest synonyms.
COLOUR_NAMES: dict[tuple[int, int, int], tuple[str, ...]] = {
    (200, 30, 40): ("red",),
    (30, 60, 170): ("blue", "royal blue"),
    (240, 240, 240): ("white",),
    (20, 20, 24): ("black",),
    (250, 200, 20): ("yellow",),
    (120, 30, 120): ("purple",),
    (250, 120, 20): ("orange",),
    (110, 190, 240): ("sky blue", "light blue"),
    (150, 20, 30): ("maroon", "claret"),
    (0, 120, 110): ("teal", "dark green"),
    (235, 235, 235): ("white",),
    (25, 25, 30): ("black", "dark"),
    (128, 128, 128): ("grey",),
    (40, 150, 60): ("green",),
}

# Bands of the group setting (writers/ucf101.group_setting draws cam_dist in 11-18 m, cam_height in
# 2.5-6 m, view_width in 7-10 m): thirds of the distance, halves of the height and of the view width.
DIST_CUTS = (13.33, 15.67)  # close < 13.33 <= mid < 15.67 <= far
HEIGHT_CUT = 4.25  # low < 4.25 <= high
WIDTH_CUT = 8.5  # tight < 8.5 <= wide

# {dist}: adverbial ("filmed ___"); {tdist}: post-modifier / predicate ("a camera ___", "the camera is ___")
DIST_WORDS = {
    "close": ("from close range", "from nearby", "up close"),
    "mid": ("from mid range", "from a medium distance", "from a moderate distance"),
    "far": ("from far away", "from a long distance", "from afar"),
}
DIST_POST = {
    "close": ("close by", "close to the play", "nearby"),
    "mid": ("at mid range", "at a medium distance", "a moderate distance away"),
    "far": ("far away", "far from the play", "a long way off"),
}
# {height}: noun phrase; {aheight}: adjective before "camera"; {theight}: predicate ("the camera is ___")
HEIGHT_WORDS = {
    "low": ("a low camera", "a camera near pitch level", "a low-mounted camera"),
    "high": ("a high camera", "an elevated camera", "a raised camera"),
}
HEIGHT_ATTR = {"low": ("low", "pitch-level", "low-mounted"), "high": ("high", "elevated", "raised")}
HEIGHT_PRED = {"low": ("low", "near pitch level", "low down"), "high": ("high", "elevated", "high up")}
# {frame}: noun phrase; {tframe}: adjective before "framing"
FRAME_WORDS = {
    "tight": ("a tight shot", "a narrow shot", "a tightly framed view"),
    "wide": ("a wide shot", "a wide-angle view", "a broad shot"),
}
FRAME_ADJ = {"tight": ("tight", "narrow"), "wide": ("wide", "broad")}

# {shirt} / {shorts}: colour names; {a_shirt}: with its article ("a red", "an orange")
ACTOR_FORMS = (
    "a player in {a_shirt} shirt",
    "a footballer in {shirt}",
    "the player wearing {a_shirt} shirt",
    "a player in {a_shirt} shirt and {shorts} shorts",
    "a footballer wearing {shirt} with {shorts} shorts",
    "a player in {a_shirt} kit",
    "someone in {a_shirt} top",
)
# What a caption names besides the action: the ``mentions`` values of captions.csv, in the order the world
# writes them (captions_per_clip captions of each per clip)
MENTIONS: dict[str, tuple[bool, bool]] = {  # name -> (kit, camera)
    "action": (False, False),
    "action+kit": (True, False),
    "action+camera": (False, True),
    "action+kit+camera": (True, True),
}
# the actor without his kit
SUBJECT_FORMS = ("a player", "a footballer", "the player", "someone", "a soccer player")

TEMPLATES = (
    "{actor} {action}, filmed {dist} with {height} in {frame}",
    "{frame} of {actor} who {action}, taken {dist} by {height}",
    "seen {dist} through {height}, {frame}: {actor} {action}",
    "{actor} {action} ({tframe} framing, {aheight} camera, {tdist})",
    "camera {theight} and {tdist}, {tframe} framing. {actor} {action}",
    "{actor} {action}; the camera is {theight}, {tdist}, with {frame}",
    "{frame} from {height} {tdist}: {actor} {action}",
)
# captions without the camera
ACTION_TEMPLATES = (
    "{actor} {action}",
    "a video of {actor} who {action}",
    "footage of {actor} who {action}",
    "{actor} {action} during a match",
    "in this clip {actor} {action}",
)


def colour_names(rgb) -> tuple[str, ...]:
    """Names of the named colour nearest to ``rgb`` (plain name first)."""
    c = np.asarray(rgb, float)
    if c.shape != (3,):
        raise ValueError(f"a colour is 3 RGB values, got {rgb!r}")
    keys = list(COLOUR_NAMES)
    d = np.linalg.norm(np.asarray(keys, float) - c, axis=1)
    return COLOUR_NAMES[keys[int(np.argmin(d))]]


def camera_bands(setting: dict) -> tuple[str, str, str]:
    """(distance, height, framing) bands of a group setting: close / mid / far, low / high, tight / wide."""
    try:
        dist, height, width = float(setting["cam_dist"]), float(setting["cam_height"]), float(setting["view_width"])
    except KeyError as e:
        raise KeyError(f"group setting lacks {e.args[0]!r} (needs cam_dist, cam_height, view_width, kits)") from None
    d = "close" if dist < DIST_CUTS[0] else "mid" if dist < DIST_CUTS[1] else "far"
    return d, "low" if height < HEIGHT_CUT else "high", "tight" if width < WIDTH_CUT else "wide"


def caption(cls: str, setting: dict, rng: np.random.Generator, *, kit: bool = True, camera: bool = True) -> str:
    """One caption of a clip of class ``cls`` shot in the group ``setting`` (writers/ucf101.group_setting): the
    action, and the actor's kit when ``kit``, the camera when ``camera``."""
    if cls not in ACTION_PHRASES:
        raise ValueError(f"no captions for class {cls!r}; expected one of {tuple(ACTION_PHRASES)}")
    if "kits" not in setting:
        raise KeyError("group setting lacks 'kits' (needs cam_dist, cam_height, view_width, kits)")
    d, h, f = camera_bands(setting)
    team = setting["kits"][0]  # the actor plays for team 0
    shirt, shorts = _pick(rng, colour_names(team.shirt)), _pick(rng, colour_names(team.shorts))
    forms = ACTOR_FORMS if kit else SUBJECT_FORMS
    actor = _pick(rng, forms).format(shirt=shirt, a_shirt=_article(shirt), shorts=shorts)
    return _pick(rng, TEMPLATES if camera else ACTION_TEMPLATES).format(
        actor=actor,
        action=_pick(rng, ACTION_PHRASES[cls]),
        dist=_pick(rng, DIST_WORDS[d]),
        tdist=_pick(rng, DIST_POST[d]),
        height=_pick(rng, HEIGHT_WORDS[h]),
        aheight=_pick(rng, HEIGHT_ATTR[h]),
        theight=_pick(rng, HEIGHT_PRED[h]),
        frame=_pick(rng, FRAME_WORDS[f]),
        tframe=_pick(rng, FRAME_ADJ[f]),
    )


def captions_for_clip(cls: str, setting: dict, *, n: int, rng: np.random.Generator, kit: bool = True,
                      camera: bool = True) -> list[str]:  # fmt: skip
    """``n`` captions of one clip (:func:`caption`), distinct as long as a few dozen draws find distinct ones."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out: list[str] = []
    for _ in range(20 * n):
        if len(out) == n:
            break
        c = caption(cls, setting, rng, kit=kit, camera=camera)
        if c not in out:
            out.append(c)
    while len(out) < n:
        out.append(caption(cls, setting, rng, kit=kit, camera=camera))
    return out


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", text)]


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(0, len(options)))]


def _article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"
