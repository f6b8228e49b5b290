"""The ``template`` script writer: valid, deterministic storyboards sized to the plan, for any prompt."""

from __future__ import annotations

import pytest

from reelforge.errors import ConfigError
from reelforge.models import Request, Storyboard
from reelforge.registry import Registry
from reelforge.script.plan import plan_durations, scene_roles, word_budget
from reelforge.script.template import TemplateWriter, analyse_topic
from reelforge.text import split_sentences, word_count

BEES = "How bees make honey"
NASTY = [
    "🐝🍯",
    "كيف يصنع النحل العسل",
    "a'b:c\\d,e;f[g]h{i}j%k",
    "<script>alert(1)</script>",
    "w" * 1990,
    "x",
    "???",
    "蜜蜂如何酿蜜",
    "HOW BEES MAKE HONEY!!!",
    '"Quoted" {braces} and \\backslashes\\ — with an em dash',
    "Ünïcödé naïve café, e\u0301 combining, 👩‍👩‍👧 family",
]


def write(prompt: str = BEES, duration: float = 60, seed: int = 0, **options: float) -> Storyboard:
    return TemplateWriter(options).execute(Request(prompt=prompt, duration=duration, seed=seed))


def check_scene_sizes(sb: Storyboard, wps: float = 2.5) -> None:
    for scene in sb.scenes:
        budget = word_budget(scene.duration, wps)
        sentences = split_sentences(scene.narration)
        assert sentences, scene
        assert all(s[-1] in ".!?" for s in sentences), sentences
        assert word_count(scene.narration) <= int(budget * 1.15), (budget, scene.narration)


@pytest.mark.parametrize("duration", [8, 30, 60, 90, 300])
def test_scenes_follow_the_plan(duration: float) -> None:
    sb = write(duration=duration)
    title_duration, durations = plan_durations(duration)
    assert [s.duration for s in sb.scenes] == durations
    assert [s.role for s in sb.scenes] == scene_roles(len(durations))
    assert [s.index for s in sb.scenes] == list(range(len(durations)))
    assert sb.title_duration == title_duration
    assert abs(sb.title_duration + sum(s.duration for s in sb.scenes) - duration) < 1e-6
    assert all(s.duration >= 1.5 for s in sb.scenes)
    assert sb.writer == "template" and sb.prompt == BEES and sb.duration == duration
    check_scene_sizes(sb)


@pytest.mark.parametrize("duration", [30, 60, 300])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_narration_fills_most_of_the_budget(duration: float, seed: int) -> None:
    for scene in write(duration=duration, seed=seed).scenes:
        budget = word_budget(scene.duration)
        assert word_count(scene.narration) >= 0.75 * budget, (budget, scene.narration)


def test_words_per_second_scales_the_narration() -> None:
    slow, fast = write(duration=90, words_per_second=1.5), write(duration=90, words_per_second=4.0)
    check_scene_sizes(slow, 1.5)
    check_scene_sizes(fast, 4.0)
    assert sum(word_count(s.narration) for s in fast.scenes) > 1.8 * sum(
        word_count(s.narration) for s in slow.scenes
    )


def test_tiny_budgets_get_one_short_sentence() -> None:
    sb = write(duration=5)
    check_scene_sizes(sb)
    for scene in sb.scenes:
        assert len(split_sentences(scene.narration)) == 1
        assert word_count(scene.narration) <= 1.15 * word_budget(scene.duration)


def test_deterministic() -> None:
    a, b = write(duration=60, seed=3), TemplateWriter().execute(Request(prompt=BEES, duration=60, seed=3))
    assert a == b
    assert a.model_dump() == b.model_dump()
    assert a.model_dump_json() == write(duration=60, seed=3).model_dump_json()


def test_seed_varies_the_wording() -> None:
    texts = {tuple(s.narration for s in write(duration=60, seed=seed).scenes) for seed in range(5)}
    assert len(texts) > 1


@pytest.mark.parametrize("prompt", [BEES, "Why is the sky blue?", "The history of the Roman Empire", "x"])
def test_no_sentence_is_repeated(prompt: str) -> None:
    sentences = [s for scene in write(prompt, 60).scenes for s in split_sentences(scene.narration)]
    assert len(sentences) == len(set(sentences)), sentences


def test_title_topic_and_keywords() -> None:
    sb = write(BEES, 60)
    assert sb.title == "How Bees Make Honey"
    narration = " ".join(s.narration for s in sb.scenes)
    assert "how bees make honey" in narration.lower()
    for scene in sb.scenes:
        assert scene.keywords and set(scene.keywords) <= {"bees", "honey"}
        assert "bees" in scene.narration.lower() or "honey" in scene.narration.lower(), scene.narration
        assert "bees" in scene.visual or "honey" in scene.visual
    assert {s.keywords[0] for s in sb.scenes} == {"bees", "honey"}  # emphasis rotates


def test_long_prompt_gets_a_short_title() -> None:
    prompt = (
        "The long migration of monarch butterflies across North America and the many dangers "
        "they face on the way, from storms to pesticides"
    )
    sb = write(prompt, 30)
    assert 0 < len(sb.title) <= 60
    assert sb.title[-1] not in ",;:- " and not sb.title.lower().endswith((" and", " of", " the"))
    assert "Monarch" in sb.title
    check_scene_sizes(sb)


@pytest.mark.parametrize(
    ("prompt", "phrase", "question"),
    [
        (BEES, "how bees make honey", None),
        ("Why is the sky blue?", "why the sky is blue", "Why is the sky blue?"),
        ("Explain how black holes form", "how black holes form", None),
        ("Can dogs see colors", "whether dogs can see colors", "Can dogs see colors?"),
        ("What is a black hole?", "what a black hole is", "What is a black hole?"),
        ("Make a short video about the water cycle", "the water cycle", None),
        ("How can I sleep better?", "how you can sleep better", "How can you sleep better?"),
    ],
)
def test_topic_reading(prompt: str, phrase: str, question: str | None) -> None:
    topic = analyse_topic(prompt)
    assert topic.phrase == phrase
    assert topic.question == question
    assert topic.subject and topic.names and topic.title


def test_keywords_are_content_words() -> None:
    topic = analyse_topic(
        "How do the bees and the bees' queen make HONEY in the hive, and why does it matter?"
    )
    assert topic.keywords[:3] == ("bees", "queen", "honey")
    assert all(k == k.lower() for k in topic.keywords)
    assert len(topic.keywords) == len(set(topic.keywords)) <= 8
    assert not {"how", "do", "the", "and", "in", "why", "does", "it", "make"} & set(topic.keywords)
    many = analyse_topic(" ".join(f"word{i}" for i in range(20)))
    assert len(many.keywords) == 8


@pytest.mark.parametrize("prompt", NASTY)
@pytest.mark.parametrize("duration", [5, 8, 60])
def test_any_prompt_gives_a_valid_storyboard(prompt: str, duration: float) -> None:
    sb = write(prompt, duration)
    again = Storyboard.model_validate_json(sb.model_dump_json())
    assert again == sb
    assert sb.title and len(sb.title) <= 60
    check_scene_sizes(sb)
    for scene in sb.scenes:
        assert scene.narration.strip() and scene.visual.strip()
        assert len(scene.narration) <= 4000 and len(scene.visual) <= 1000
        assert all(k.strip() and len(k) <= 60 for k in scene.keywords)


def test_options_are_validated() -> None:
    assert TemplateWriter().identity() == {
        "name": "template",
        "version": "1",
        "options": {"words_per_second": 2.5},
    }
    for bad in (0.5, 6, "fast"):
        with pytest.raises(ConfigError):
            TemplateWriter({"words_per_second": bad})
    with pytest.raises(ConfigError):
        TemplateWriter({"wps": 3})


def test_registered_as_an_entry_point() -> None:
    assert Registry().get("script", "template") is TemplateWriter
