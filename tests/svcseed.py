"""A service with one seeded, finished job (small but real files) and an executor that renders nothing: for tests
of the API surface (fuzzing, paths, limits) that need a job to aim at without rendering one."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from reelforge.config import load_settings
from reelforge.models import AudioClip, AudioPlan, Cue, Scene, Segment, Storyboard, Timeline
from reelforge.service.app import create_app
from reelforge.service.jobs import Job
from reelforge.tools import find_ffmpeg

TOKEN = "seeded-token-0123456789abcdef"
SEED = "f" * 32
#: the seeded timeline's asset names, as ``asset_names`` gives them
ASSETS = ("0.png", "1.wav")


class NullExecutor:
    """Takes jobs and never runs them: the API surface is what is under test."""

    kind = "null"

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def submit(self, job: Job) -> None:
        self.submitted.append(job.id)

    def cancel(self, job_id: str) -> None: ...


def _ffmpeg(*args: str) -> None:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *args], check=True)


def seeded_files(job_dir: Path, assets: Path) -> Storyboard:
    """A finished 5 s job's files (video, sidecars, an HLS segment, a thumbnail, a timeline whose assets live in
    ``assets``, outside the job's directory like the stage cache), and a browser render."""
    job_dir.mkdir(parents=True)
    assets.mkdir(parents=True)
    (job_dir / "hls").mkdir()
    (job_dir / "thumbs").mkdir()
    video = job_dir / "video.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=30", "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-t", "5", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video))  # fmt: skip
    _ffmpeg("-i", str(video), "-t", "1", "-c", "copy", "-f", "mpegts", str(job_dir / "hls" / "s0-1-0.ts"))
    _ffmpeg("-f", "lavfi", "-i", "color=c=blue:size=64x64", "-frames:v", "1", str(assets / "still.png"))
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1", str(job_dir / "thumbs" / "0.jpg")
    )
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:size=64x64", "-frames:v", "1", str(job_dir / "video.poster.png")
    )
    _ffmpeg("-f", "lavfi", "-i", "sine=sample_rate=22050", "-t", "2", "-ac", "1", str(assets / "speech.wav"))
    (job_dir / "video.vtt").write_text("WEBVTT\n\n00:00.500 --> 00:02.000\nHello bees\n")
    (job_dir / "video.srt").write_text("1\n00:00:00,500 --> 00:00:02,000\nHello bees\n")
    (job_dir / "stream.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
                                         "#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nhls/s0-1-0.ts\n#EXT-X-ENDLIST\n")  # fmt: skip
    shutil.copy(video, job_dir / "client.mp4")  # as if a browser render had been uploaded
    cue = Cue(start=0.5, end=2.0, text="Hello bees")
    tl = Timeline(width=64, height=64, fps=30, frames=150, title="Bees",
                  segments=(Segment(kind="scene", index=0, start_frame=0, frames=150, image=assets / "still.png",
                                    cues=(cue,)),), cues=(cue,),
                  audio=AudioPlan(narration=(AudioClip(path=assets / "speech.wav", start=0.5),),
                                  speech=((0.5, 2.5),)))  # fmt: skip
    (job_dir / "timeline.json").write_text(tl.model_dump_json(by_alias=True))
    return Storyboard(title="Bees", prompt="How bees make honey", duration=5, title_duration=1,
                      scenes=(Scene(index=0, narration="Bees make honey.", visual="a bee", duration=4),))  # fmt: skip


class SeededService:
    """``create_app`` with a :class:`NullExecutor`, a token ``TOKEN`` (name ``owner``) and the job ``SEED``,
    finished, owned by that token. ``restore()`` puts the job back when a request changed or deleted it."""

    def __init__(self, root: Path, **service: Any) -> None:
        service.setdefault("artifact_dir", str(root / "jobs"))
        service.setdefault("anonymous_max_concurrent", 1000)
        service.setdefault("tokens", [{"name": "owner", "token": TOKEN, "max_concurrent": 1000}])
        self.settings = load_settings(None, writer="template", images="procedural", cache_dir=root / "cache",
                                      service=service)  # fmt: skip
        self.jobs_dir = self.settings.service.artifact_dir
        self.template = root / "template"
        self.assets = root / "assets"
        sb = seeded_files(self.template, self.assets)
        self.job = Job(id=SEED, owner="owner", status="done", storyboard=sb.model_dump(mode="json"),
                       request={"prompt": "How bees make honey", "duration": 5.0, "resolution": "480p"},
                       result={"duration": 5.0, "size": 1000, "elapsed": 1.0, "segments": 1, "cache": {}},
                       started_at=time.time(), finished_at=time.time())  # fmt: skip
        self.executor = NullExecutor()
        self.app = create_app(self.settings, executor=self.executor)
        self.store = self.app.state.store
        self.restores = 0
        self.restore(force=True)

    @property
    def folder(self) -> Path:
        return self.jobs_dir / SEED

    def restore(self, force: bool = False) -> None:
        job = self.store.get(SEED)
        folder = self.folder
        intact = (job is not None and job.status == "done" and job.generation == 0
                  and job.storyboard == self.job.storyboard and (folder / "timeline.json").is_file()
                  and (folder / "video.mp4").is_file())  # fmt: skip
        if intact and not force:
            return
        self.restores += not force
        self.store.delete(SEED)
        self.store.create(self.job.model_copy())
        if folder.is_symlink():
            folder.unlink()
        elif force and folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.template, folder, dirs_exist_ok=True)
