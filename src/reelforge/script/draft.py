"""The whole storyboard in one structured call, for strong models: the plan given to the model, the JSON
schema it answers in, and the lenient parsing of its answer into a ``Draft`` (whose pieces then go
through the same checks as pieces asked for one by one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..models import LAYOUTS, PlanItem, VisualPlan
from ..text import clean
from .plan import plan_durations, scene_roles, word_budget
from .prompts import ROLE_TASKS, SYSTEM, Message, _q

# ---- the whole storyboard in one structured call (strong models) -----------------------------


@dataclass(frozen=True)
class ScenePlan:
    role: str
    duration: float
    budget: int


def make_plan(duration: float, words_per_second: float) -> tuple[float, list[ScenePlan]]:
    title_duration, durations = plan_durations(duration)
    roles = scene_roles(len(durations))
    return title_duration, [
        ScenePlan(role, d, word_budget(d, words_per_second)) for role, d in zip(roles, durations, strict=True)
    ]


def storyboard_schema() -> dict[str, Any]:
    """JSON schema of a whole-storyboard answer (valid for OpenAI's strict structured outputs)."""
    scene = {
        "type": "object",
        "additionalProperties": False,
        "required": ["narration", "visual", "keywords", "layout", "elements", "number", "unit"],
        "properties": {
            "narration": {"type": "string"},
            "visual": {"type": "string"},
            "keywords": {"type": "array", "items": {"type": "string"}},
            "layout": {"type": "string", "enum": [lay for lay in LAYOUTS if lay != "closing"]},
            "elements": {"type": "array", "items": {"type": "string"}},
            "number": {"type": "string"},
            "unit": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "scenes"],
        "properties": {"title": {"type": "string"}, "scenes": {"type": "array", "items": scene}},
    }


def storyboard_messages(prompt: str, plan: Sequence[ScenePlan]) -> list[Message]:
    rows = "\n".join(
        f"{i + 1}. {ROLE_TASKS.get(p.role, ROLE_TASKS['point'])}; at most {p.budget} words"
        for i, p in enumerate(plan)
    )
    user = (
        f"Topic: {_q(prompt)}\n\n"
        f"Write the storyboard of a short narrated video about this topic, with exactly {len(plan)} scenes "
        f"in this order:\n{rows}\n\n"
        "Reply with JSON only, in this shape: "
        '{"title": "a short catchy title, at most 7 words", "scenes": [{"narration": "the words the '
        'narrator says: complete sentences, within the scene\'s word limit", "visual": "one sentence '
        'describing the picture shown", "keywords": ["3 to 5 search keywords for the picture"], "layout": '
        '"how the picture is laid out: hero (one subject), process (A turns into B), comparison (A vs B), '
        'list (the points the narration names), stat (a number the narration says), phrase (a key phrase)", '
        '"elements": ["1 to 4 short labels of the things shown, in the order the narration names them, '
        'each 1 to 3 words the narration uses"], "number": "for stat: the number as the narration writes '
        'it, else empty", "unit": "for stat: what it counts, else empty"}]}.\n'
        "Every scene must say something new; do not repeat earlier scenes."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def proposed_plan(candidate: dict[str, Any] | None, narration: str) -> VisualPlan | None:
    """The visual plan a model proposed for a scene, when it is usable as a start: a known layout, labels
    the narration says, a number the narration says. The visual planner then picks the icons and repairs
    the rest; anything doubtful is left to it (``None``)."""
    if not candidate:
        return None
    layout = candidate.get("layout")
    if layout not in LAYOUTS or layout == "closing":
        return None
    said = narration.lower()
    raw = candidate.get("elements")
    labels = [clean(e)[:60] for e in raw if isinstance(e, str)] if isinstance(raw, list) else []
    labels = [e for e in labels if e and e.lower() in said][:4]
    number = str(candidate.get("number") or "")
    unit = str(candidate.get("unit") or "")
    if layout == "stat" and (not number or number not in narration):
        return None
    if layout in ("process", "comparison", "list") and len(labels) < 2:
        return None
    if layout in ("hero", "phrase") and not labels:
        return None
    items = tuple(PlanItem(label=e, icon=None, cue=e) for e in labels)
    if layout == "phrase":
        return VisualPlan(layout="phrase", text=labels[0], items=())
    return VisualPlan(layout=layout, items=items, number=number[:20] or None, unit=clean(unit)[:40])


@dataclass
class Draft:
    """A whole storyboard as a model wrote it, before validation (any field may be bad)."""

    title: str | None = None
    scenes: list[dict[str, Any]] = field(default_factory=list)


_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*|\s*```\s*$")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def parse_json_object(text: str) -> dict[str, Any] | None:
    """Best-effort JSON object from a model's reply: strips code fences and prose around the object,
    and trailing commas. ``None`` when nothing usable is there."""
    s = _FENCE.sub("", text.strip())
    start, end = s.find("{"), s.rfind("}")
    if start < 0 or end <= start:
        return None
    body = s[start : end + 1]
    for candidate in (body, _TRAILING_COMMA.sub(r"\1", body)):
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        return obj if isinstance(obj, dict) else None
    return None


def parse_draft(text: str) -> Draft | None:
    obj = parse_json_object(text)
    if obj is None:
        return None
    title = obj.get("title")
    scenes = obj.get("scenes")
    if not isinstance(scenes, list):
        scenes = []
    return Draft(
        title=title if isinstance(title, str) else None,
        scenes=[s if isinstance(s, dict) else {} for s in scenes],
    )
