"""``reelforge batch FILE``: CSV, JSON-lines and plain-text files; a bad row is reported with its number and
reason while the others are made; the summary CSV; a re-run resumes and makes nothing twice."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mediatools import probe

from reelforge.batch import check_rows, default_parallel, read_rows

FAST = ["--writer", "template", "--images", "procedural", "--resolution", "480p", "--fps", "12"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("batch-cache")


def batch(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REELFORGE_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-m", "reelforge", "batch", *args, *FAST], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)  # fmt: skip


def summary(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_makes_the_good_rows_and_reports_the_bad_ones(tmp_path, cache_dir):
    (tmp_path / "list.csv").write_text(
        "prompt,duration,style,voice,output\n"
        "How bees make honey,5,calm,,\n"
        "Why the sky is blue,5,jazzy,,\n"  # refused before any work
        "Volcanoes,6,upbeat,,custom/volcano.mp4\n"
        "Why cats purr,5,,nosuchvoice,\n",  # fails while it is made
        encoding="utf-8",
    )
    r = batch("list.csv", "--parallel", "2", cwd=tmp_path, cache=cache_dir)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "row 2 (line 3): unknown style 'jazzy'" in r.stderr
    assert "row 4: unknown voice 'nosuchvoice'" in r.stderr
    out = tmp_path / "list"
    bees, volcano = out / "how-bees-make-honey.mp4", out / "custom" / "volcano.mp4"
    assert f"✓ {bees}" in r.stdout and f"✓ {volcano}" in r.stdout
    assert "2 of 4 videos made, 2 failed" in r.stdout
    assert probe(bees)["duration"] == pytest.approx(5.0, abs=0.05)
    assert probe(volcano)["duration"] == pytest.approx(6.0, abs=0.05)
    assert probe(bees)["video"]["height"] == 480
    assert not (out / "why-cats-purr.mp4").exists()

    rows = summary(out / "summary.csv")
    assert list(rows[0]) == ["row", "prompt", "path", "duration", "time", "status", "error", "key"]
    assert [(x["row"], x["status"]) for x in rows] == [("1", "done"), ("2", "invalid"), ("3", "done"),
                                                       ("4", "failed")]  # fmt: skip
    assert rows[0]["path"] == str(bees) and rows[0]["duration"] == "5.000" and float(rows[0]["time"]) > 0
    assert rows[2]["path"] == str(volcano) and rows[2]["duration"] == "6.000"
    assert "unknown style 'jazzy'" in rows[1]["error"] and rows[1]["path"] == ""
    assert "unknown voice 'nosuchvoice'" in rows[3]["error"]
    assert rows[0]["error"] == "" and rows[0]["prompt"] == "How bees make honey"


def test_resume_makes_nothing_twice(tmp_path, cache_dir):
    (tmp_path / "topics.txt").write_text(
        "# one prompt per line\nHow bees make honey\n\nHow bees make honey\nWhy volcanoes erupt\n",
        encoding="utf-8",
    )
    out = tmp_path / "videos"
    first = batch("topics.txt", "-d", "5", "-o", str(out), cwd=tmp_path, cache=cache_dir)
    assert first.returncode == 0, first.stderr
    videos = [
        out / "how-bees-make-honey.mp4",
        out / "how-bees-make-honey-2.mp4",
        out / "why-volcanoes-erupt.mp4",
    ]
    assert all(v.is_file() for v in videos) and first.stdout.count("✓") == 3
    made = {v: v.stat().st_mtime_ns for v in videos}

    again = batch("topics.txt", "-d", "5", "-o", str(out), cwd=tmp_path, cache=cache_dir)
    assert again.returncode == 0, again.stderr
    assert "3 of 3 videos were made by an earlier run; 0 to make" in again.stderr
    assert "✓" not in again.stdout and "3 of 3 videos made" in again.stdout
    assert {v: v.stat().st_mtime_ns for v in videos} == made
    assert [x["status"] for x in summary(out / "summary.csv")] == ["done"] * 3

    # a video that went missing, and a row whose options changed, are made again; nothing else is
    videos[2].unlink()
    (tmp_path / "topics.txt").write_text(
        "How bees make honey\nHow bees make honey\nWhy volcanoes erupt\n", encoding="utf-8"
    )
    third = batch("topics.txt", "-d", "5", "-o", str(out), cwd=tmp_path, cache=cache_dir)
    assert third.returncode == 0, third.stderr
    assert third.stdout.count("✓") == 1 and f"✓ {videos[2]}" in third.stdout
    assert {v: v.stat().st_mtime_ns for v in videos[:2]} == {v: made[v] for v in videos[:2]}
    changed = batch("topics.txt", "-d", "6", "-o", str(out), cwd=tmp_path, cache=cache_dir)
    # -d applies to every row: all three are made again
    assert changed.returncode == 0 and changed.stdout.count("✓") == 3, changed.stdout + changed.stderr
    assert probe(videos[0])["duration"] == pytest.approx(6.0, abs=0.05)


def test_jsonl_rows_with_their_own_options(tmp_path, cache_dir):
    lines = [
        {"prompt": "How bees make honey", "duration": 5, "aspect": "9:16"},
        "{not json",
        {"prompt": "Moons", "colour": "red"},
        {"prompt": "The Moon", "duration": "5", "no-music": True, "output": "moon.mp4"},
    ]
    (tmp_path / "jobs.jsonl").write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8"
    )
    r = batch("jobs.jsonl", cwd=tmp_path, cache=cache_dir)
    assert r.returncode == 1, r.stderr
    assert "row 2 (line 2): not valid JSON" in r.stderr
    assert "row 3 (line 3): unknown option 'colour'" in r.stderr
    bees, moon = tmp_path / "jobs" / "how-bees-make-honey.mp4", tmp_path / "jobs" / "moon.mp4"
    info = probe(bees)
    assert info["video"]["width"] < info["video"]["height"]  # 9:16
    assert json.loads(moon.with_suffix(".config.json").read_text())["settings"]["no_music"] is True
    assert [x["status"] for x in summary(tmp_path / "jobs" / "summary.csv")] == ["done", "invalid", "invalid",
                                                                                 "done"]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("a.csv", "prompt,colour\nbees,red\n", "unknown column 'colour'"),
        ("b.csv", "duration\n10\n", "no 'prompt' column"),
        ("c.txt", "# nothing\n\n", "has no rows"),
        ("d.csv", "prompt,duration\nbees,0\n,10\n", "none of the 2 rows"),
    ],
)
def test_a_bad_file_is_one_clear_line(tmp_path, cache_dir, name, text, needle):
    (tmp_path / name).write_text(text, encoding="utf-8")
    r = batch(name, cwd=tmp_path, cache=cache_dir)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not list(tmp_path.rglob("*.mp4"))


def test_missing_file(tmp_path, cache_dir):
    r = batch("nope.csv", cwd=tmp_path, cache=cache_dir)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_rows_are_checked_up_front_with_their_numbers(tmp_path):
    f = tmp_path / "rows.csv"
    f.write_text(
        "prompt,duration,resolution,output,transition\n"
        "Bees,5,480p,,\n"
        "Bees,3000,,,\n"
        "Ants,5,4k,,\n"
        "Wasps,5,,same.mp4,\n"
        "Moths,5,,same.mp4,spin\n"
        "Flies,5,,same.mp4,\n"
        "Bees,5,,,\n",
        encoding="utf-8",
    )
    rows = check_rows(f, out_dir=tmp_path / "out", defaults={"writer": "template"})
    errors = {r.number: r.error for r in rows if r.error}
    assert set(errors) == {2, 3, 5, 6}
    assert "out of range" in (errors[2] or "") and "unknown resolution '4k'" in (errors[3] or "")
    assert "unknown transition 'spin'" in (errors[5] or "")
    assert "also row 4's output" in (errors[6] or "")
    outputs = [r.output.name if r.output else None for r in rows]
    assert outputs == ["bees.mp4", None, None, "same.mp4", None, None, "bees-2.mp4"]
    assert [r.line for r in rows] == [2, 3, 4, 5, 6, 7, 8]


def test_reading_the_three_formats(tmp_path):
    (tmp_path / "a.txt").write_text("one\n  \n# skip\ntwo\n", encoding="utf-8")
    assert read_rows(tmp_path / "a.txt") == [(1, {"prompt": "one"}), (4, {"prompt": "two"})]
    (tmp_path / "b.csv").write_text("Prompt,Duration,Length-Scale\nbees,10,\n", encoding="utf-8")
    assert read_rows(tmp_path / "b.csv") == [(2, {"prompt": "bees", "duration": "10"})]
    (tmp_path / "c").write_text('{"prompt": "bees", "seed": 3}\n', encoding="utf-8")  # no suffix: sniffed
    assert read_rows(tmp_path / "c") == [(1, {"prompt": "bees", "seed": 3})]
    assert default_parallel(2) == 2 and default_parallel(8) == 4 and default_parallel(64) == 4


def test_an_unwritable_summary_is_refused_before_any_work(tmp_path, cache_dir):
    (tmp_path / "t.txt").write_text("bees\n", encoding="utf-8")
    r = batch("t.txt", "--summary", "/proc/nope/summary.csv", cwd=tmp_path, cache=cache_dir)
    assert r.returncode == 2 and "cannot write the summary" in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.rglob("*.mp4"))
