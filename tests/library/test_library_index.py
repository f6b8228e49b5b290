"""Indexing a clip library: probing, one-pass sampling, shots, captions, persistence, incremental updates."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from libclips import CLIPS, ffmpeg, make_clip, make_two_shot

from reelforge.embed import default_embedder
from reelforge.library import Library
from reelforge.library.describe import describe, humanize
from reelforge.library.index import VectorIndex
from reelforge.library.probe import probe
from reelforge.library.sampling import detect_shots, sample_frames


class CountingEmbedder:
    """The real MiniLM, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.inner = default_embedder()
        self.name, self.dim = self.inner.name, self.inner.dim
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        return self.inner.embed(texts)


@pytest.fixture
def lib(tmp_path: Path):
    emb = CountingEmbedder()
    with Library("t", tmp_path / "libs", embedder=emb, visual="none") as library:
        yield library


def test_queries_find_the_matching_clip(lib: Library, footage: Path):
    report = lib.add([footage], recursive=True)
    assert len(report.added) == 3 and not report.rejected
    for query, key in [("waves crashing on rocks", "ocean"), ("flames of a fire", "fire"),
                       ("a dense green forest with tall trees", "forest")]:  # fmt: skip
        hits = lib.search(query, k=3)
        assert hits[0].path.name == Path(CLIPS[key][0]).name, (query, [h.path.name for h in hits])
        assert hits[0].score > hits[1].score + 0.1


def test_readding_is_a_no_op(lib: Library, footage: Path):
    lib.add([footage], recursive=True)
    embedded, version = lib.embedder.calls, lib.store.version  # type: ignore[attr-defined]
    again = lib.add([footage], recursive=True)
    assert again.unchanged == 3 and not again.added and not again.updated
    assert again.texts_embedded == 0 and again.frames_decoded == 0
    assert lib.embedder.calls == embedded  # type: ignore[attr-defined]
    assert lib.store.version == version


def test_without_recursive_only_the_folder_itself(lib: Library, footage: Path):
    report = lib.add([footage])
    assert [p.name for p in report.added] == ["CampFire.mp4"]


def test_changed_moved_and_duplicate_files(lib: Library, tmp_path: Path):
    d = tmp_path / "src"
    a = make_clip(d / "sunset_beach.mp4", (240, 140, 30), 1.0)
    lib.add([d])
    # changed content -> indexed again
    make_clip(a, (240, 140, 30), 1.5)
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))
    r = lib.add([d])
    assert r.updated == [a.resolve()]
    # touched but identical -> no re-embedding
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))
    calls = lib.embedder.calls  # type: ignore[attr-defined]
    r = lib.add([d])
    assert r.unchanged == 1 and lib.embedder.calls == calls  # type: ignore[attr-defined]
    # moved -> same entry at the new path, nothing decoded
    b = d / "sunset_beach_moved.mp4"
    a.rename(b)
    r = lib.add([d])
    assert r.moved == [(a.resolve(), b.resolve())] and r.frames_decoded == 0
    # a copy -> reported as a duplicate, not indexed twice
    c = d / "copy.mp4"
    shutil.copyfile(b, c)
    r = lib.add([d])
    assert [p for p, _ in r.duplicates] == [c.resolve()]
    assert lib.stats()["files"] == {"ok": 1, "duplicate": 1}


def test_bad_files_are_reported_and_skipped(lib: Library, tmp_path: Path, footage: Path):
    d = tmp_path / "bad"
    d.mkdir()
    good = make_clip(d / "good_city_street.mp4", (120, 120, 120), 1.0)
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("this is not a video\n" * 50)
    whole = make_clip(tmp_path / "whole.mp4", (10, 200, 10), 3.0, size="320x180")  # moov at the end
    (d / "cut_moov.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    fast = make_clip(
        tmp_path / "fast.mp4", (10, 200, 10), 3.0, size="320x180", extra=("-movflags", "+faststart")
    )
    (d / "cut_data.mp4").write_bytes(fast.read_bytes()[: fast.stat().st_size // 4])
    make_clip(d / "really_mkv.mp4", (50, 50, 50), 1.0, extra=("-f", "matroska"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(d / "audio_only.mp4"))
    make_clip(d / "slideshow.mp4", (90, 20, 90), 3.0, fps=2)
    make_clip(d / "too_wide.mp4", (0, 0, 0), 0.2, size="7696x16")
    (d / "still.png").write_bytes(b"")  # not a video name: ignored when adding a folder
    report = lib.add([d])
    reasons = {p.name: why for p, why in report.rejected}
    assert report.added == [good.resolve()]
    assert "empty" in reasons["empty.mp4"]
    assert "not a readable media file" in reasons["notes.mp4"]
    assert "not a readable media file" in reasons["cut_moov.mp4"]
    assert "truncated" in reasons["cut_data.mp4"]
    assert "wrong extension" in reasons["really_mkv.mp4"] and "Matroska" in reasons["really_mkv.mp4"]
    assert "audio only" in reasons["audio_only.mp4"]
    assert "frame rate 2" in reasons["slideshow.mp4"]
    assert "larger than 8K" in reasons["too_wide.mp4"]
    assert "still.png" not in reasons
    # a file given by name with another extension is rejected with a reason too
    r = lib.add([footage / "CampFire.json"])
    assert "not a video file extension" in r.rejected[0][1]
    # stats lists them; adding again reports them again without probing
    assert len(lib.stats()["rejected"]) == 9
    again = lib.add([d])
    assert again.unchanged == 9 and len(again.rejected) == 8


def test_sampling_is_bounded_and_sequential(tmp_path: Path):
    long = make_clip(tmp_path / "long.mp4", (100, 100, 200), 12.0, extra=("-g", "25"))
    info = probe(long)
    s = sample_frames(long, info, max_frames=16)
    assert len(s.frames) <= 16
    assert s.frames[0].t < 1.0 and s.frames[-1].t > 10.0  # spread over the duration
    assert s.decoded <= 2 * len(s.frames) + 2  # keyframes + the frame after each: not the 300 frames
    assert all(f.motion > 0 for f in s.frames)  # temporal noise: frame differences are measured
    one_gop = make_clip(tmp_path / "onegop.mp4", (100, 100, 200), 4.0, extra=("-g", "1000"))
    s2 = sample_frames(one_gop, probe(one_gop), max_frames=4)
    assert len(s2.frames) == 4 and s2.decoded < 100  # decodes up to the last target only


def test_two_shot_file_becomes_two_segments(lib: Library, tmp_path: Path):
    clip = make_two_shot(tmp_path / "two" / "fire_then_ocean.mp4", (220, 40, 20), (30, 60, 220))
    info = probe(clip)
    shots = detect_shots(sample_frames(clip, info), info.duration, fps=info.fps)
    assert len(shots) == 2
    assert abs(shots[0].end - 1.5) < 0.3 and shots[1].end > 2.9
    red = np.mean([f.mean_rgb for f in shots[0].frames], axis=0)
    blue = np.mean([f.mean_rgb for f in shots[1].frames], axis=0)
    assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0]
    r = lib.add([clip])
    assert r.segments == 2
    segs = lib.store.segments()
    assert segs[0].start == 0.0 and segs[1].start == segs[0].end and len({s.id for s in segs}) == 2


def test_shot_captions_from_json_sidecar(lib: Library, tmp_path: Path):
    clip = make_two_shot(tmp_path / "x" / "mixed.mp4", (220, 40, 20), (30, 60, 220))
    clip.with_suffix(".json").write_text(
        '{"segments": [{"start": 0, "end": 1.5, "caption": "a bonfire"},'
        ' {"start": 1.5, "end": 3, "caption": "the deep blue sea"}]}'
    )
    lib.add([clip])
    top = lib.search("sea water", k=1)[0]
    assert top.start > 1.0  # the ocean shot, not the fire shot of the same file


def test_names_folders_and_sidecars_describe_a_clip(tmp_path: Path):
    assert humanize("v_ApplyEyeMakeup_g01_c01") == "apply eye makeup"
    assert humanize("surfing-big_waves") == "surfing big waves"
    assert humanize("853889-hd_1920_1080_25fps") == ""
    p = tmp_path / "UCF101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi"
    p.parent.mkdir(parents=True)
    p.write_bytes(b"x")
    p.with_suffix(".json").write_text(
        '{"tags": ["makeup", "face"], "url": "https://x.com/video/woman-at-mirror-42/"}'
    )
    text = describe(p, tmp_path / "UCF101").text()
    assert "apply eye makeup" in text and "makeup, face" in text and "woman at mirror" in text


def test_index_survives_restarts_and_crashes(tmp_path: Path, footage: Path):
    root = tmp_path / "libs"
    with Library("p", root, visual="none") as lib:
        lib.add([footage], recursive=True)
        version = lib.store.version
    faiss_file = root / "p" / "text.faiss"
    assert faiss_file.is_file()
    with Library("p", root, visual="none") as lib:  # loaded from disk
        assert lib.index().ntotal == 3 and lib.search("fire", 1)[0].path.name == "CampFire.mp4"
    # a crash after a SQLite commit but before the index was saved: the stale index is not used
    (root / "p" / "text.faiss.json").write_text(f'{{"version": {version - 1}, "ntotal": 2, "dim": 384}}')
    faiss_file.write_bytes(b"garbage")
    with Library("p", root, visual="none") as lib:
        assert lib.index().ntotal == 3  # rebuilt from the vectors in SQLite
        assert lib.search("ocean", 1)[0].path.name == "ocean_waves.mp4"
    assert not list((root / "p").glob(".*.tmp"))


def test_hnsw_above_the_threshold(tmp_path: Path, footage: Path):
    with Library("h", tmp_path, visual="none", hnsw_threshold=2) as lib:
        lib.add([footage], recursive=True)
        assert lib.index().kind == "hnsw"
        assert lib.search("campfire", 1)[0].path.name == "CampFire.mp4"
        gone = lib.remove(footage / "CampFire.mp4")  # HNSW cannot remove: rebuilt from SQLite
        assert [p.name for p in gone] == ["CampFire.mp4"]
        assert lib.index().ntotal == 2
        assert all(h.path.name != "CampFire.mp4" for h in lib.search("campfire", 3))


def test_remove_and_rebuild(lib: Library, footage: Path, tmp_path: Path):
    extra = make_clip(tmp_path / "more" / "snowy_mountain.mp4", (230, 230, 240), 1.0)
    lib.add([footage, extra.parent], recursive=True)
    assert len(lib.remove(footage / "nature")) == 2
    assert lib.stats()["files"] == {"ok": 2}
    extra.unlink()
    r = lib.rebuild()
    assert [p.name for p in r.removed] == ["snowy_mountain.mp4"]
    assert lib.index().ntotal == 1


def test_vector_index_flat_and_hnsw_agree():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(500, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(10, 510)
    flat = VectorIndex.build(ids, vecs, 32, hnsw_threshold=10_000)
    hnsw = VectorIndex.build(ids, vecs, 32, hnsw_threshold=100)
    assert (flat.kind, hnsw.kind) == ("flat", "hnsw")
    _, a = flat.search(vecs[:20], 1)
    _, b = hnsw.search(vecs[:20], 1)
    assert (a[:, 0] == ids[:20]).all() and (b[:, 0] == ids[:20]).mean() >= 0.95


class ColourEmbedder:
    """A stand-in visual embedder (mean colour), to exercise the visual path without model weights."""

    name, dim, pixels = "test/mean-colour", 3, 32

    def embed_images(self, images):
        m = np.array([im.reshape(-1, 3).mean(axis=0) for im in images], dtype=np.float32) + 1.0
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    def embed_text(self, texts):
        return None


def test_visual_embedder_deduplicates_reencoded_footage(tmp_path: Path):
    d = tmp_path / "v"
    make_clip(d / "harbour.mp4", (40, 90, 200), 2.0)
    ffmpeg("-i", str(d / "harbour.mp4"), "-c:v", "libx264", "-crf", "35", "-preset", "ultrafast",
           str(d / "harbour_small.mp4"))  # fmt: skip
    make_clip(d / "lava.mp4", (230, 60, 10), 2.0)
    with Library("v", tmp_path / "libs", visual=ColourEmbedder()) as lib:
        r = lib.add([d])
        assert sorted(p.name for p in r.added) == ["harbour.mp4", "lava.mp4"]
        assert [(p.name, o.name) for p, o in r.duplicates] == [("harbour_small.mp4", "harbour.mp4")]
        assert lib.stats()["visual_vectors"] == 2
