"""The visual planner: a layout from what a scene says, relevant icons only, variety from scene to scene."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.embed import default_embedder
from reelforge.models import ImageRequest, PlanItem, Scene, Storyboard, VisualPlan
from reelforge.visuals import icons
from reelforge.visuals.icons import icon_index
from reelforge.visuals.illustrated import IllustratedImages
from reelforge.visuals.layouts import count_values
from reelforge.visuals.plan import find_number, is_relevant, plan_storyboard, plan_title


@pytest.fixture(scope="module")
def emb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def index(emb_dir: Path) -> icons.IconIndex:
    return icon_index(default_embedder(), emb_dir)


def code(index: icons.IconIndex, name: str) -> str:
    return next(i.code for i in index.icons if name in (n.lower() for n in i.names))


def names(index: icons.IconIndex, plan: VisualPlan) -> list[str]:
    by = {i.code: i.names[0].lower() for i in index.icons}
    return [by.get(item.icon or "", "") for item in plan.items]


def storyboard(title: str, *narrations: str, visuals: tuple[str, ...] = (), keywords=()) -> Storyboard:
    n = len(narrations)
    scenes = tuple(
        Scene(
            index=k,
            narration=text,
            visual=(visuals[k] if k < len(visuals) else text),
            keywords=keywords[k] if k < len(keywords) else (),
            duration=6.0,
        )
        for k, text in enumerate(narrations)
    )
    return Storyboard(title=title, prompt=title, duration=6.0 * n, title_duration=0, scenes=scenes)


def plan_one(index: icons.IconIndex, title: str, narration: str, **kw) -> VisualPlan:
    plan = plan_storyboard(storyboard(title, narration, **kw), index).scenes[0].plan
    assert plan is not None
    return plan


# ---- layouts from what is said ------------------------------------------------------------------


def test_turns_x_into_y_is_a_process(index: icons.IconIndex) -> None:
    plan = plan_one(
        index, "How solar panels work", "Solar panels turn sunlight into electricity for your home."
    )
    assert plan.layout == "process"
    labels = [i.label.lower() for i in plan.items]
    assert labels[0] == "sunlight" and "electricity" in labels[-1]
    assert "solar" in " ".join(labels[1:-1]) or len(labels) == 2


def test_a_comparison(index: icons.IconIndex) -> None:
    plan = plan_one(
        index, "Cats vs dogs as pets", "Cats are far more independent than dogs, who crave company."
    )
    assert plan.layout == "comparison"
    assert [i.label.lower() for i in plan.items] == ["cats", "dogs"]
    assert names(index, plan)[0].endswith("cat") or "cat" in names(index, plan)[0]


def test_an_enumeration_is_a_list_with_a_heading(index: icons.IconIndex) -> None:
    plan = plan_one(
        index,
        "What makes a good password",
        "A strong password mixes letters, numbers, and special symbols.",
    )
    assert plan.layout == "list"
    assert [i.label.lower() for i in plan.items] == ["letters", "numbers", "special symbols"]
    assert plan.text and "password" in plan.text.lower()


def test_three_tips_is_a_list(index: icons.IconIndex) -> None:
    plan = plan_one(
        index, "Better sleep", "Here are three tips: keep a schedule, avoid coffee late, and dim the lights."
    )
    assert plan.layout == "list" and len(plan.items) == 3


def test_a_number_with_a_unit_is_a_stat_that_counts(index: icons.IconIndex) -> None:
    plan = plan_one(index, "How bees make honey", "A single hive can make up to 100 pounds of honey a year.")
    assert plan.layout == "stat"
    assert plan.number == "100" and plan.unit.startswith("pounds") and plan.text == "up to"
    assert names(index, plan)[0] in ("honeybee", "honey pot", "beehive")


@pytest.mark.parametrize(
    ("text", "number", "unit"),
    [
        ("It is 60,000 bees strong.", "60,000", "bees"),
        ("About 90% of the energy is lost.", "90", "%"),
        ("The whale weighs 150 tonnes.", "150", "tonnes"),
        ("It was invented in 1817 in Germany.", "1817", ""),
        ("Ten times faster than before.", "10", "times"),
        ("I have 2 cats and a dog.", None, None),  # small and unitless after all: no stat
    ],
)
def test_find_number(text: str, number: str | None, unit: str | None) -> None:
    found = find_number(text)
    if number is None:
        assert found is None or found.text != "2"
        return
    assert found is not None and found.text == number and found.unit == unit


def test_counter_values_end_on_the_number_as_written() -> None:
    values = count_values("60,000")
    assert values[0] == "0" and values[-1] == "60,000" and len(values) >= 10
    assert all("," in v for v in values if len(v) > 4)
    assert count_values("3.5")[-1] == "3.5" and count_values("3.5")[1].count(".") == 1
    assert count_values("1817") == count_values("1817")  # deterministic


def test_last_scene_is_a_closing_card_with_a_takeaway(index: icons.IconIndex) -> None:
    sb = storyboard(
        "How volcanoes form",
        "Deep under the ground, rock melts into magma.",
        "Magma rises through cracks in the crust and erupts as lava.",
        "So that's how volcanoes form, in a nutshell. Thanks for watching.",
    )
    plans = [s.plan for s in plan_storyboard(sb, index).scenes]
    assert plans[-1] is not None and plans[-1].layout == "closing"
    # a sign-off is no takeaway: the most topical sentence of the video is
    assert plans[-1].text and "nutshell" not in plans[-1].text and "magma" in plans[-1].text.lower()


# ---- relevance ----------------------------------------------------------------------------------

PASSWORD = "What makes a good password"
PASSWORD_SCENE = "A strong password mixes upper and lower case letters, numbers and symbols."


@pytest.mark.parametrize("refused", ["rainbow", "rainbow flag", "dragon", "person gesturing no", "unicorn"])
def test_password_videos_refuse_rainbows_and_dragons(index: icons.IconIndex, refused: str) -> None:
    assert not is_relevant(index, code(index, refused), PASSWORD, PASSWORD_SCENE)


@pytest.mark.parametrize("accepted", ["locked", "key", "input numbers", "input symbols"])
def test_password_videos_accept_locks_and_keys(index: icons.IconIndex, accepted: str) -> None:
    assert is_relevant(index, code(index, accepted), PASSWORD, PASSWORD_SCENE)


@pytest.mark.parametrize(
    ("topic", "scene", "refused", "accepted"),
    [
        ("How bees make honey", "Bees collect nectar from flowers.", "artist palette", "honeybee"),
        ("How volcanoes form", "Magma rises through cracks in the crust.", "dragon", "volcano"),
        ("Why the sky is blue", "Sunlight is scattered by the air.", "pot of food", "sun"),
    ],
)
def test_icons_must_fit_scene_and_topic(index: icons.IconIndex, topic: str, scene: str, refused: str,
                                        accepted: str) -> None:  # fmt: skip
    assert not is_relevant(index, code(index, refused), topic, scene)
    assert is_relevant(index, code(index, accepted), topic, scene)


def test_an_off_topic_description_does_not_reach_the_picture(index: icons.IconIndex) -> None:
    """The bundled model described a password scene as "a rainbow with the letter R": the picture follows
    what is said instead."""
    sb = storyboard(
        "Password Essentials",
        "The key to a strong password lies in choosing a mix of letters, numbers, and special characters.",
        "Never reuse a password on two sites.",
        visuals=("A rainbow with the letter 'R' spelled out in gold", "A rainbow-cracked image of a dragon"),
        keywords=(("rainbow", "password"), ("rainbow", "dragon")),
    )
    shown = [n for s in plan_storyboard(sb, index).scenes for n in names(index, s.plan)]  # type: ignore[arg-type]
    assert not any(n in ("rainbow", "rainbow flag", "dragon", "dragon face") for n in shown), shown


# ---- variety ------------------------------------------------------------------------------------


def test_consecutive_scenes_never_repeat_a_hero(index: icons.IconIndex) -> None:
    sb = storyboard(
        "How volcanoes form",
        "A volcano is a mountain that erupts.",
        "The volcano erupts when magma rises through cracks in the earth's crust.",
        "Every volcano erupts lava and ash into the sky.",
        "Volcanoes are amazing.",
        "Thanks for watching.",
    )
    plans = [s.plan for s in plan_storyboard(sb, index).scenes]
    assert all(p is not None for p in plans)
    for a, b in itertools.pairwise(plans):
        assert a is not None and b is not None
        same_hero = a.layout == b.layout == "hero" and a.items[0].icon == b.items[0].icon
        assert not same_hero, (a, b)


def test_a_given_plan_is_kept_and_repaired(index: icons.IconIndex) -> None:
    mine = VisualPlan(layout="comparison", items=(PlanItem(label="Honey", icon=code(index, "honey pot")),
                                                   PlanItem(label="Sugar", icon=None)))  # fmt: skip
    sb = storyboard("How bees make honey", "Honey is sweeter than sugar.")
    sb = sb.with_scene(sb.scenes[0].model_copy(update={"plan": mine}))
    plan = plan_storyboard(sb, index).scenes[0].plan
    assert plan is not None and plan.layout == "comparison"
    assert plan.items[0].icon == code(index, "honey pot")  # a chosen icon is the chooser's call
    assert plan.items[1].icon  # an icon left to the planner is picked from its label
    broken = VisualPlan(layout="stat", items=())  # a stat with no number cannot be drawn
    sb = sb.with_scene(sb.scenes[0].model_copy(update={"plan": broken}))
    assert plan_storyboard(sb, index).scenes[0].plan.layout == "hero"  # type: ignore[union-attr]
    # repairing is idempotent: a saved storyboard plans to itself (its pictures stay cached)
    once = plan_storyboard(storyboard("Bees", "Bees turn nectar into honey."), index)
    assert plan_storyboard(once, index) == once


def test_title_plan_names_the_subject(index: icons.IconIndex) -> None:
    plan = plan_title(storyboard("How Bees Make Honey", "Bees."), index)
    assert plan.text == "How Bees Make Honey" and names(index, plan) == ["honeybee"]


# ---- drawing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["hero", "process", "comparison", "list", "stat", "phrase", "closing"])
@pytest.mark.parametrize("size", [(736, 414), (414, 736)])
def test_every_layout_draws_layers_clear_of_the_subtitles(
    index: icons.IconIndex, emb_dir: Path, tmp_path: Path, layout: str, size: tuple[int, int]
) -> None:
    bee, pot, flower = code(index, "honeybee"), code(index, "honey pot"), code(index, "blossom")
    items = (PlanItem(label="Bees", icon=bee), PlanItem(label="Nectar", icon=flower),
             PlanItem(label="Honey", icon=pot))  # fmt: skip
    plan = VisualPlan(layout=layout, items=items[:2] if layout == "comparison" else items, number="100",
                      unit="pounds", text="Honey in every hive")  # fmt: skip
    scene = Scene(index=0, narration="Bees turn nectar into honey.", visual="bees", duration=5, plan=plan)
    w, h = size
    req = ImageRequest(scene=scene, title="How bees make honey", style="calm", width=round(w * 1.15 / 2) * 2,
                       height=round(h * 1.15 / 2) * 2, seed=0, frame_width=w, frame_height=h)  # fmt: skip
    visual = IllustratedImages({"cache_dir": str(emb_dir)}).execute(req, tmp_path / "image.png")
    assert visual.layers, layout
    for layer in visual.layers:
        img = Image.open(tmp_path / layer.file)
        assert img.mode == "RGBA" and img.size == (layer.width, layer.height)
        assert layer.width % 2 == 0 and layer.height % 2 == 0
        alpha = np.asarray(img.getchannel("A"))
        ys = np.nonzero(alpha.max(axis=1) > 8)[0]
        bottom = layer.y * h + (ys.max() - layer.height / 2)
        assert bottom <= 0.8 * h + 2, (layout, layer.name, bottom / h)  # the subtitles' band stays free
        left, right = layer.x * w - layer.width / 2, layer.x * w + layer.width / 2
        assert left >= -2 and right <= w + 2, (layout, layer.name)
    kinds = {layer.enter for layer in visual.layers}
    if layout == "stat":
        counter = next(layer for layer in visual.layers if layer.enter == "count")
        assert len(counter.frames) >= 10
    if layout == "process":
        assert "draw" in kinds  # the arrows draw themselves


def test_a_comparative_compares_the_sentences_subject(index: icons.IconIndex) -> None:
    plan = plan_one(
        index, "How bees make honey", "The bees make as much honey as they need and even more than humans do."
    )
    assert plan.layout == "comparison" and plan.items[0].label.lower() in ("bees", "the bees")
    plan = plan_one(index, "Honey", "Honey is much sweeter than sugar.")
    assert [i.label.lower() for i in plan.items] == ["honey", "sugar"]


def test_wax_is_a_candle_not_the_waxing_moon(index: icons.IconIndex) -> None:
    sb = storyboard("How bees make honey", "Bees build their combs from wax.", keywords=(("wax", "bees"),))
    shown = [n for s in plan_storyboard(sb, index).scenes for n in names(index, s.plan)]  # type: ignore[arg-type]
    assert "waxing crescent moon" not in shown
