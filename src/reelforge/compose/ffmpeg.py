"""The ffmpeg-native renderer.

Each segment (title card, then one per scene) is rendered by its own ffmpeg process from one still:
the still is decoded once, converted to YUV once, looped, and moved (Ken Burns = per-frame scale + crop),
faded, and subtitled by libass. Segments are cached by content and rendered in parallel; they are then
joined without re-encoding and muxed with the audio mix, with the moov atom first (``+faststart``).

Transitions other than the fade through black overlap two segments (see :func:`transition_frames`). The
segment before the boundary renders ``D`` frames past its end into a lossless ``tail.mkv``; the segment after
it renders its first ``D`` frames into a lossless ``head.mkv`` and the rest into ``seg.mp4``. ffmpeg's ``xfade``
mixes tail and head into a short clip, cached apart, that is joined (stream copy) to the body: ``scene.mp4``,
exactly the segment's frames, in the final join and as the scene's HLS segment. So each segment is still
rendered alone and cached by its own content; an edit re-renders one segment and the (short) transitions
on either side of it.
Graph text contains only numbers and fixed file names; user text reaches ffmpeg only inside ASS files
(escaped) and as metadata arguments, so it can never inject filter syntax.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field

from ..backend import Backend, BackendOptions
from ..cache import Cache, cache_key, file_fingerprint
from ..errors import ComposeError, OutputError
from ..models import ProgressEvent, Segment, Timeline
from ..tools import find_ffmpeg, find_font, run
from .audio import MIX_VERSION, mix
from .layers import layer_files, layer_inputs, layers_graph
from .subtitles import CueStrip, ass_events, ass_header, drawn_once, prerender

Progress = Callable[[ProgressEvent], None]

#: ffmpeg ``xfade`` transition for each overlapping ``Segment.transition``
XFADE = {"crossfade": "fade", "slide": "slideleft", "wipe": "wipeleft", "zoom": "zoomin"}
#: how head and tail frames are kept between the segment and its transitions: lossless, 4:2:0. x264's
#: lossless mode at ``ultrafast`` encodes in about half FFV1's time (2.7 against 5 ms a 720p frame)
LOSSLESS = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-threads", "1"]


def transition_frames(seg: Segment, tl: Timeline) -> tuple[int, int]:
    """``(D_in, D_out)``: the frames of ``seg`` that its incoming transition overlaps (0: a fade through
    black, or no segment before it), and the frames it must render past its end for the next segment's."""
    d_in = d_out = 0
    end = seg.start_frame + seg.frames
    for other in tl.segments:
        if seg.transition != "fade" and other.start_frame + other.frames == seg.start_frame:
            d_in = seg.transition_frames
        if other.transition != "fade" and other.start_frame == end:
            d_out = other.transition_frames
    if d_in >= seg.frames:
        raise ComposeError(f"segment at frame {seg.start_frame}: its transition ({d_in} frames) is not "
                           f"shorter than the segment ({seg.frames} frames)")  # fmt: skip
    return d_in, d_out


def _as_rendered(seg: Segment, d_in: int, d_out: int) -> Segment:
    """An overlapping transition replaces the fades on both sides of its boundary."""
    update = {k: 0.0 for k, d in (("fade_in", d_in), ("fade_out", d_out)) if d and getattr(seg, k)}
    return seg.model_copy(update=update) if update else seg


def _concat_list(paths: list[Path]) -> str:
    return "".join("file '" + str(p).replace("'", "'\\''") + "'\n" for p in paths)


def _even_round(v: float, limit: int) -> int:
    """The timeline document's pan rounding: to nearest (halves to even), clamped, then down to even."""
    return max(0, min(limit, round(v))) // 2 * 2


def _still_chain(seg: Segment, tl: Timeline, w: int, h: int, total: int | None = None) -> str:
    """Input 0 (a still) decoded once, converted to BT.709 YUV once, looped, then moved by ``zoompan``.

    Ken Burns: at frame n the visible part of the still is ``1/z`` of it, offset by ``p`` of the spare
    room, with z and p linear in n. ``zoompan`` crops and scales in one step at a fixed output size
    (a per-frame ``scale`` followed by ``crop`` silently loses the pan: ``crop`` keeps the link's first
    size). ``settb`` makes frame n exactly t = n/fps, so fades and cues land on the right frame. ``total``
    frames are made (default: the segment's; more continue the move past its end, for a transition).
    """
    n, fps, m = seg.frames, tl.fps, seg.motion
    total = total or n
    span = max(n - 1, 1)
    z = f"{m.zoom_from:.5f}+{m.zoom_to - m.zoom_from:.5f}*on/{span}"
    px = f"({m.pan_from[0]:.4f}+{m.pan_to[0] - m.pan_from[0]:.4f}*on/{span})"
    py = f"({m.pan_from[1]:.4f}+{m.pan_to[1] - m.pan_from[1]:.4f}*on/{span})"
    chain = ["[0:v]scale=out_color_matrix=bt709:out_range=tv:flags=bicubic", "format=yuv420p"]
    if seg.blur > 0:
        chain.append(f"gblur=sigma={seg.blur:.2f}")
    if seg.dim > 0:
        chain.append(f"eq=brightness={-seg.dim * 0.5:.3f}:saturation={1 - seg.dim * 0.4:.3f}")
    if m.zoom_from == m.zoom_to and m.pan_from == m.pan_to:
        # a still that does not move (a plan's backdrop: its layers carry the motion) is scaled and cropped
        # once, before the loop, by the same formula (nothing is computed per frame, and x264 finds
        # nothing moving under the layers)
        sw, sh = max(w, 2 * int(w * m.zoom_from / 2)), max(h, 2 * int(h * m.zoom_from / 2))
        x, y = _even_round((sw - w) * m.pan_from[0], sw - w), _even_round((sh - h) * m.pan_from[1], sh - h)
        chain += [f"scale={sw}:{sh}:flags=bicubic", f"crop={w}:{h}:{x}:{y}",
                  f"loop=loop={total - 1}:size=1:start=0", f"settb=1/{fps}", "setpts=N", "setsar=1"]  # fmt: skip
        return ",".join(chain)
    chain += [
        f"loop=loop={total - 1}:size=1:start=0",
        f"settb=1/{fps}",
        "setpts=N",
        f"zoompan=z='{z}':x='(iw-iw/zoom)*{px}':y='(ih-ih/zoom)*{py}':d=1:s={w}x{h}:fps={fps}",
        "setsar=1",
    ]
    return ",".join(chain)


def _clip_chain(
    seg: Segment, tl: Timeline, w: int, h: int, matrix: str = "auto", total: int | None = None
) -> str:
    """Input 1 (a video clip) at constant frame rate, filling a ``w`` x ``h`` cell.

    ``cover`` scales to cover the cell and centre-crops; ``blurfill`` shows the whole clip over a blurred,
    darkened, cover-cropped copy of itself (a landscape clip in a portrait cell), the blur made at 1/8 size
    so it costs little. Sizes come from the display aspect (``dar``), so clips with non-square pixels keep
    their shape. Moving footage is scaled bilinear (bicubic costs 0.3 ms/frame more and looks the same in
    motion). ``matrix`` is the clip's YUV matrix (see :func:`clip_matrix`): BT.709 needs no conversion,
    BT.601 is converted by ``colorspace`` before scaling (0.15 ms/frame, where ``scale``'s own matrix
    conversion costs 0.8), anything else by ``scale`` from the file's tag.
    """
    fps = tl.fps
    pre = f"fps={fps}"
    if matrix == "bt601":
        pre += ",colorspace=space=bt709:ispace=bt470bg:trc=bt709:itrc=bt709:primaries=bt709:iprimaries=bt709:fast=1"
    conv = (
        "out_range=tv"
        if matrix in ("bt709", "bt601")
        else "in_color_matrix=auto:out_color_matrix=bt709:out_range=tv"
    )
    cover_w, cover_h = _fit_size(w, h)
    tail = f"setsar=1,format=yuv420p,trim=end_frame={total or seg.frames},settb=1/{fps},setpts=N"
    if seg.fit == "blurfill":
        bw, bh = max(2, w // 8 // 2 * 2), max(2, h // 8 // 2 * 2)
        small_w, small_h = _fit_size(bw, bh)
        inner_w, inner_h = _fit_size(w, h, inside=True)
        return (
            f"[1:v]{pre},split[cf][cb];"
            f"[cb]scale=w='{small_w}':h='{small_h}':flags=bilinear:{conv},crop={bw}:{bh},setsar=1,"
            f"boxblur=2:1,eq=brightness=-0.18,scale={w}:{h}:flags=bilinear[bg];"
            f"[cf]scale=w='{inner_w}':h='{inner_h}':flags=bilinear:{conv},setsar=1[fg];"
            f"[bg][fg]overlay=x=(W-w)/2:y=(H-h)/2,{tail}"
        )
    return f"[1:v]{pre},scale=w='{cover_w}':h='{cover_h}':flags=bilinear:{conv},crop={w}:{h},{tail}"


def _fit_size(w: int, h: int, *, inside: bool = False) -> tuple[str, str]:
    """``scale`` width and height expressions (even) that cover a ``w`` x ``h`` box by the input's display
    aspect (``dar``), or fit ``inside`` it."""
    wider = f"gt(dar,{w}/{h})"
    if inside:
        return f"if({wider},{w},floor({h}*dar/2)*2)", f"if({wider},floor({w}/dar/2)*2,{h})"
    return f"if({wider},ceil({h}*dar/2)*2,{w})", f"if({wider},{h},ceil({w}/dar/2)*2)"


def clip_matrix(path: Path) -> str:
    """The YUV matrix a clip is read with: its tag (``bt709``, ``bt601``, or ``auto`` for any other tag),
    else what players assume for untagged video: BT.709 from 720 lines up, BT.601 below."""
    try:
        import av

        with av.open(str(path)) as container:
            cc = container.streams.video[0].codec_context
            tag = int(cc.colorspace)
    except Exception:  # unreadable here: ffmpeg itself will give the real error
        return "auto"
    if tag == 2:  # AVCOL_SPC_UNSPECIFIED
        return "bt709" if cc.height >= 720 else "bt601"
    return {1: "bt709", 5: "bt601", 6: "bt601"}.get(tag, "auto")  # BT.709, BT.470BG, SMPTE 170M


def segment_graph(
    seg: Segment,
    tl: Timeline,
    matrix: str = "auto",
    total: int | None = None,
    cues: CueStrip | None = None,
    libass: bool | None = None,
) -> str:
    """The filter graph for one segment: input 0 = the still, input 1 = the clip (if any), read with the
    YUV ``matrix`` (see :func:`clip_matrix`), then the layers' inputs (see :func:`layer_inputs`), then the
    ``cues`` drawn once (if any; see :func:`subtitles.prerender`), overlaid while shown. ``libass`` draws
    ``seg.ass`` on every frame (default: all of the title and cues, when no ``cues`` are given). It makes
    ``total`` frames (default: the segment's own; more continue it past its end, for a transition)."""
    w, h, fps, n = tl.width, tl.height, tl.fps, seg.frames
    total = total or n
    layout = seg.layout if seg.clip is not None else "still"
    still = _still_chain(seg, tl, w, h, total)
    if layout == "still":
        graph = still
    elif layout == "clip":
        graph = _clip_chain(seg, tl, w, h, matrix, total)
    elif layout == "blend":  # the seed's look: the still over the clip at 50 % opacity
        graph = f"{still}[s];{_clip_chain(seg, tl, w, h, matrix, total)}[c];[c][s]blend=all_mode=average"
    elif layout == "pip":  # clip inset in the top-right corner over the moving still
        iw, ih = (w // 3) // 2 * 2, (h // 3) // 2 * 2
        mx, my = w // 24 * 2 // 2, h // 24 * 2 // 2
        graph = (
            f"{still}[s];{_clip_chain(seg, tl, iw, ih, matrix, total)}[c];"
            f"[s][c]overlay=x={w - iw - mx}:y={my}:eof_action=repeat"
        )
    else:  # split: still on the left half, clip on the right half
        half = (w // 2) // 2 * 2
        graph = (
            f"{still},crop={half}:{h}:0:0[s];{_clip_chain(seg, tl, w - half, h, matrix, total)}[c];"
            "[s][c]hstack=inputs=2"
        )
    if seg.layers:
        first = 2 if layout != "still" else 1
        graph = f"{graph}[base];" + layers_graph(seg.layers, "base", first, total, tl.fps)
    dur = n / fps
    post: list[str] = []
    if seg.fade_in > 0:
        post.append(f"fade=t=in:st=0:d={seg.fade_in:.3f}")
    if seg.fade_out > 0:
        post.append(f"fade=t=out:st={max(0.0, dur - seg.fade_out):.3f}:d={seg.fade_out:.3f}")
    if post:
        graph += "," + ",".join(post)
    if cues is not None:  # drawn over the fades, like libass
        inputs = (2 if layout != "still" else 1) + len(layer_inputs(seg.layers)) // 2
        graph = f"{graph}[precues];" + cues.graph("precues", inputs, fps)
    if libass is None:
        libass = cues is None and bool(seg.text or seg.cues)
    if libass:
        graph += ",subtitles=filename=seg.ass:fontsdir=fonts"
    # frames carry the tags to x264 (its -color_* options lose to unspecified frame properties since ffmpeg 7)
    return graph + ",setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709[v]"


class FFmpegComposer(Backend):
    name: ClassVar[str] = "ffmpeg"
    # 2: zoompan Ken Burns (pan honoured), exact frame times, BT.709 tags
    # 3: clips: blurfill, display aspect honoured, bilinear, untagged HD read as BT.709; primaries and
    #    transfer tagged on the frames (they were lost)
    # 4: still cues drawn once by libass and overlaid while shown (luma within 2 levels of libass on every
    #    frame; chroma at the glyphs' soft edges within a few)
    version: ClassVar[str] = "4"
    description: ClassVar[str] = "ffmpeg-native segment renderer (libx264 + libass), parallel and cached"

    class Options(BackendOptions):
        preset: str = "veryfast"
        crf: Annotated[int, Field(ge=0, le=51)] = 21
        workers: Annotated[int, Field(ge=0, le=64)] = 0  # parallel segments; 0 = CPU cores
        threads: Annotated[int, Field(ge=0, le=64)] = 0  # x264 threads per segment; 0 = cores / workers
        ffmpeg: str | None = None
        font_file: str | None = None

    options: Options

    def __init__(self, options: BackendOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.ffmpeg = find_ffmpeg(self.options.ffmpeg)
        self.font = find_font(Path(self.options.font_file) if self.options.font_file else None)

    def identity(self) -> dict[str, Any]:
        """Only what changes the pixels: parallelism and binary paths don't invalidate the cache."""
        o = self.options
        return {"name": self.name, "version": self.version, "preset": o.preset, "crf": o.crf,
                "font": self.font.name}  # fmt: skip

    # -- pieces ---------------------------------------------------------------------------------

    def _font_dir(self, work: Path) -> Path:
        font = self.font
        d = work / "fonts"
        d.mkdir(parents=True, exist_ok=True)
        target = d / font.name
        if not target.exists():
            shutil.copyfile(font, target)
        return d

    def _workers(self) -> tuple[int, int]:
        cores = os.cpu_count() or 1
        workers = self.options.workers or cores
        threads = self.options.threads or max(1, cores // workers)
        return workers, threads

    @staticmethod
    def _clip_input(seg: Segment, tl: Timeline, threads: int = 0, total: int | None = None) -> list[str]:
        if seg.clip is None or seg.layout == "still":
            return []
        # seek by the demuxer (no decode of skipped frames); loop a clip shorter than the scene; decode
        # with the segment's share of the cores (frame threads beyond it only add switching)
        return ["-threads", str(threads), "-stream_loop", "-1", "-ss", f"{seg.clip_start:.3f}",
                "-t", f"{(total or seg.frames) / tl.fps + 1:.3f}", "-an", "-i", str(seg.clip)]  # fmt: skip

    def _x264(self, tl: Timeline, threads: int) -> list[str]:
        """The H.264 settings of every piece of the final video (segments and transitions join by copy)."""
        return ["-c:v", "libx264", "-preset", self.options.preset, "-crf", str(self.options.crf),
                "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", str(tl.fps * 2),
                "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
                "-threads", str(threads)]  # fmt: skip

    def segment_key(self, seg: Segment, tl: Timeline) -> str:
        """Everything that changes the segment's pixels; cue times are taken relative to the segment, so a
        scene that only moves in time (an earlier scene changed length) is not re-rendered. The transitions
        count by their lengths only (``D_in`` frames go to the head, ``D_out`` more are made for the tail)."""
        d_in, d_out = transition_frames(seg, tl)
        seg = _as_rendered(seg, d_in, d_out)
        offset = seg.start_frame / tl.fps
        body = seg.model_dump(mode="json", exclude={"start_frame", "index", "cues", "transition",
                                                    "transition_frames"})  # fmt: skip
        if body.get("fit") == "cover":  # the default: keys of segments made before ``fit`` existed still hold
            del body["fit"]
        if d_in or d_out:  # (without: keys of segments made before transitions existed still hold)
            body["overlap"] = [d_in, d_out]
        body["cues"] = [(round(c.start - offset, 3), round(c.end - offset, 3), c.text) for c in seg.cues]
        if any(c.words for c in seg.cues):  # karaoke: the word times change the pixels too
            body["words"] = [[(w.word, round(w.start - offset, 3), round(w.end - offset, 3)) for w in c.words]
                             for c in seg.cues]  # fmt: skip
        return cache_key(
            "segment",
            self.identity(),
            {"w": tl.width, "h": tl.height, "fps": tl.fps, "subs": tl.subtitles},
            body,
            file_fingerprint(seg.image),
            file_fingerprint(seg.clip) if seg.clip else None,
            [file_fingerprint(p) for p in layer_files(seg.layers)],
        )

    def _subtitles(self, seg: Segment, tl: Timeline, out_dir: Path, fonts: Path, total: int,
                   cancel: threading.Event | None) -> tuple[CueStrip | None, bool]:  # fmt: skip
        """The segment's title and cues, ready in ``out_dir``: still cues drawn once (the strip to overlay, see
        :func:`subtitles.prerender`), the rest (the title fades, karaoke words change colour) in ``seg.ass``
        for libass on every frame (True if there are any). Links ``out_dir/fonts`` for libass."""
        if not (seg.text or seg.cues):
            return None, False
        link = out_dir / "fonts"
        if not link.exists():
            link.symlink_to(fonts, target_is_directory=True)
        offset = seg.start_frame / tl.fps
        span = (offset, offset + seg.frames / tl.fps)
        events = ass_events(seg.cues, style=tl.subtitles, offset=offset, title=seg.text,
                            title_span=span if seg.text else None)  # fmt: skip
        once, rest = drawn_once(events, tl.fps, total)
        cues = None
        if once:
            cues = prerender(self.ffmpeg, once, width=tl.width, height=tl.height, style=tl.subtitles, fps=tl.fps,
                             total=total, out_dir=out_dir, cancel=cancel)  # fmt: skip
        if rest:
            ass = ass_header(width=tl.width, height=tl.height, style=tl.subtitles)
            (out_dir / "seg.ass").write_text(ass + "".join(e.line for e in rest), encoding="utf-8")
        return cues, bool(rest)

    def render_segment(self, seg: Segment, tl: Timeline, out_dir: Path, fonts: Path,
                       cancel: threading.Event | None = None) -> Path:  # fmt: skip
        """Render one segment into ``out_dir/seg.mp4``: all its frames, or with transitions (see
        :func:`transition_frames`) frames ``D_in``.. only, the first ``D_in`` into ``head.mkv`` and ``D_out``
        frames past its end into ``tail.mkv`` (lossless), all from one ffmpeg process."""
        _, threads = self._workers()
        d_in, d_out = transition_frames(seg, tl)
        seg = _as_rendered(seg, d_in, d_out)
        n, fps = seg.frames, str(tl.fps)
        cues: CueStrip | None = None
        try:
            cues, libass = self._subtitles(seg, tl, out_dir, fonts, n + d_out, cancel)
            graph = segment_graph(seg, tl, clip_matrix(seg.clip) if seg.clip else "auto", total=n + d_out,
                                  cues=cues, libass=libass)  # fmt: skip
            # one pass, split: the head (lossless) and the body, which runs on into the tail. The tail is not a
            # branch of its own: a branch that drops frames runs ahead of the x264 body and the split buffers
            # every frame for the body meanwhile (1.1-1.8 GB per 1080p segment); it is cut from the encode
            body, graph, extra = self._head_split(graph, n, d_in, fps)
            cmd = [
                self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                "-i", str(seg.image),
                *self._clip_input(seg, tl, threads, n + d_out),
                *layer_inputs(seg.layers),
                *(cues.inputs() if cues else []),
                "-filter_complex", graph, "-filter_threads", "1",
                "-map", body, "-frames:v", str(n - d_in + d_out), "-r", fps, *self._x264(tl, threads),
                *(["-force_key_frames", f"expr:eq(n,{n - d_in})"] if d_out else []),
                "-an", "-movflags", "+faststart", "full.mp4" if d_out else "seg.mp4",
                *extra,
            ]  # fmt: skip
            run(cmd, cwd=out_dir, cancel=cancel, what=f"ffmpeg (segment {seg.index + 1})")
            if d_out:
                self._cut_tail(out_dir, n - d_in, d_out, tl.fps, cancel)
        finally:
            link = out_dir / "fonts"
            if link.is_symlink():
                link.unlink()
            if cues is not None:
                cues.path.unlink(missing_ok=True)
        return out_dir / "seg.mp4"

    @staticmethod
    def _head_split(graph: str, n: int, d_in: int, fps: str) -> tuple[str, str, list[str]]:
        """The graph's output split into the head (its first ``d_in`` frames, lossless ``head.mkv``) and the
        body from frame ``d_in`` on (with the tail's frames after it, when there is a tail).
        Returns ``(body label, graph, extra output arguments)``."""
        if not d_in:
            return "[v]", graph, []
        extra = ["-map", "[head]", "-frames:v", str(d_in), "-r", fps, *LOSSLESS, "head.mkv"]
        graph += (f";[v]split=2[body0][head0];[body0]trim=start_frame={d_in},setpts=PTS-STARTPTS[body]"
                  f";[head0]trim=end_frame={d_in}[head]")  # fmt: skip
        return "[body]", graph, extra

    def _cut_tail(
        self, out_dir: Path, body: int, d_out: int, fps: int, cancel: threading.Event | None
    ) -> None:
        """``full.mp4`` (the body, a keyframe forced at its end, then the tail) into ``seg.mp4`` (the body,
        its packets copied: every frame before that keyframe decodes before it) and ``tail.mkv`` (the tail's
        frames, decoded from the keyframe on, lossless)."""
        full = out_dir / "full.mp4"
        try:
            run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", str(full),
                 "-map", "0:v:0", "-c", "copy", "-frames:v", str(body), "-movflags", "+faststart", "seg.mp4"],
                cwd=out_dir, cancel=cancel, what="ffmpeg (segment body)")  # fmt: skip
            run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                 "-ss", f"{(body - 0.5) / fps:.6f}", "-i", str(full), "-map", "0:v:0", "-frames:v", str(d_out),
                 "-r", str(fps), *LOSSLESS, "tail.mkv"], cwd=out_dir, cancel=cancel, what="ffmpeg (segment tail)")  # fmt: skip
        finally:
            full.unlink(missing_ok=True)

    def transition_key(self, seg: Segment, tl: Timeline, tail: Path, head: Path, body: Path) -> str:
        d_in, _ = transition_frames(seg, tl)
        return cache_key(
            "transition", self.identity(), {"w": tl.width, "h": tl.height, "fps": tl.fps}, seg.transition, d_in,
            file_fingerprint(tail), file_fingerprint(head), file_fingerprint(body),
        )  # fmt: skip

    def render_transition(self, seg: Segment, tl: Timeline, tail: Path, head: Path, body: Path, out_dir: Path,
                          cancel: threading.Event | None = None) -> Path:  # fmt: skip
        """``out_dir/scene.mp4``: the segment as it plays, its ``D_in`` transition frames (ffmpeg ``xfade``
        of the previous segment's ``tail`` into this one's ``head``, offset 0, duration ``D_in / fps``)
        followed by its ``body`` (copied)."""
        _, threads = self._workers()
        d, fps = transition_frames(seg, tl)[0], tl.fps
        if d == 0:
            raise ComposeError(f"segment at frame {seg.start_frame} has no transition to render")
        # frame j at pts j (1/fps): xfade's progress is 1 - j/D, exactly
        graph = (
            f"[0:v]settb=1/{fps},setpts=N[a];[1:v]settb=1/{fps},setpts=N[b];"
            f"[a][b]xfade=transition={XFADE[seg.transition]}:duration={d / fps:.6f}:offset=0,format=yuv420p,"
            "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709[v]"
        )
        run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
             "-i", str(tail), "-i", str(head), "-filter_complex", graph, "-filter_threads", "1",
             "-map", "[v]", "-frames:v", str(d), "-r", str(fps), *self._x264(tl, threads),
             "-an", "-movflags", "+faststart", "trans.mp4"],
            cwd=out_dir, cancel=cancel, what=f"ffmpeg (transition into segment {seg.index + 1})")  # fmt: skip
        listing = out_dir / "scene.txt"
        listing.write_text(_concat_list([out_dir / "trans.mp4", body]), encoding="utf-8")
        run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
             "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-c", "copy",
             "-movflags", "+faststart", "scene.mp4"],
            cwd=out_dir, cancel=cancel, what=f"ffmpeg (join segment {seg.index + 1})")  # fmt: skip
        listing.unlink()
        (out_dir / "trans.mp4").unlink()
        return out_dir / "scene.mp4"

    # -- the whole render -----------------------------------------------------------------------

    def execute(
        self,
        timeline: Timeline,
        out_path: Path,
        work_dir: Path,
        progress: Progress | None = None,
        *,
        cache: Cache | None = None,
        cancel: threading.Event | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        fonts = self._font_dir(work_dir)
        cache = cache or Cache(work_dir / "cache", enabled=False)
        segs = timeline.segments
        emit = progress or (lambda e: None)

        # the audio mix runs beside the first segments (it is short and mostly single-threaded); progressive
        # playback (HLS) pairs each finished segment with its slice of the mix as soon as both exist
        emit(ProgressEvent(stage="audio", done=0, total=1))
        audio_key = cache_key(
            "audio", self.identity(), MIX_VERSION, timeline.audio,
            [file_fingerprint(c.path) for c in timeline.audio.narration],
            file_fingerprint(timeline.audio.music) if timeline.audio.music else None,
            timeline.frames, timeline.fps,
        )  # fmt: skip

        def audio() -> Path:
            entry, hit = cache.get_or_build(
                "audio", audio_key, lambda d: self._render_audio(timeline, d, cancel)
            )
            emit(ProgressEvent(stage="audio", done=1, total=1, cached=hit, artifact=str(entry / "audio.m4a")))
            return entry / "audio.m4a"

        done = 0
        lock = threading.Lock()
        emit(ProgressEvent(stage="render", done=0, total=len(segs)))
        overlap = [transition_frames(s, timeline)[0] for s in segs]
        entries: dict[int, tuple[Path, bool]] = {}  # rendered segments: cache entry, hit
        joined: set[int] = set()  # segments whose transition is taken (or done)
        paths: dict[int, Path] = {}  # each segment as it plays: seg.mp4, or scene.mp4 with its transition

        def report(k: int, path: Path, hit: bool) -> None:
            nonlocal done
            seg = segs[k]
            with lock:
                paths[k] = path
                done += 1
                emit(ProgressEvent(stage="render", done=done, total=len(segs), cached=hit,
                                   scene=seg.index if seg.kind == "scene" else None,
                                   message=f"segment {k}", artifact=str(path)))  # fmt: skip

        def one(k: int) -> None:
            entry, hit = self._segment_entry(timeline, k, fonts, cache, cancel)
            if not overlap[k]:
                report(k, entry / "seg.mp4", hit)
            with lock:  # a transition is made by whichever of its two segments is rendered last
                entries[k] = entry, hit
                ready = [j for j in (k, k + 1) if j < len(segs) and overlap[j] and j not in joined
                         and j - 1 in entries and j in entries]  # fmt: skip
                joined.update(ready)
            for j in ready:
                path, t_hit = self._transition_entry(
                    timeline, j, entries[j - 1][0], entries[j][0], cache, cancel
                )
                report(j, path, entries[j][1] and t_hit)

        workers, _ = self._workers()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            audio_f = pool.submit(audio)
            # every segment gets its chance even if one fails, so a re-run redoes only the failed ones
            futures: list[Future[Any]] = [pool.submit(one, k) for k in range(len(segs))]
            wait([audio_f, *futures])
        for f in futures:
            f.result()  # the first failure, if any, is raised here
        audio_path = audio_f.result()

        emit(ProgressEvent(stage="mux", done=0, total=1))
        order = [paths[k] for k in range(len(segs))]
        self.mux(order, audio_path, timeline, out_path, work_dir, cancel, metadata or {})
        emit(ProgressEvent(stage="mux", done=1, total=1))

    def _segment_entry(self, tl: Timeline, k: int, fonts: Path, cache: Cache,
                       cancel: threading.Event | None) -> tuple[Path, bool]:  # fmt: skip
        """Segment ``k``'s cache entry (rendered if missing) and whether it was there."""
        seg = tl.segments[k]

        def build(d: Path) -> None:
            self.render_segment(seg, tl, d, fonts, cancel)

        return cache.get_or_build("segment", self.segment_key(seg, tl), build)

    def _transition_entry(self, tl: Timeline, k: int, prev: Path, entry: Path, cache: Cache,
                          cancel: threading.Event | None) -> tuple[Path, bool]:  # fmt: skip
        """Segment ``k`` as it plays (the transition from ``k - 1``'s tail into its head, then its body)."""
        tail, head, body = prev / "tail.mkv", entry / "head.mkv", entry / "seg.mp4"

        def build(d: Path) -> None:
            self.render_transition(tl.segments[k], tl, tail, head, body, d, cancel)

        t_entry, hit = cache.get_or_build("transition", self.transition_key(tl.segments[k], tl, tail, head, body),
                                          build)  # fmt: skip
        return t_entry / "scene.mp4", hit

    def prepare_segment(self, tl: Timeline, k: int, work_dir: Path, cache: Cache,
                        cancel: threading.Event | None = None) -> bool:  # fmt: skip
        """Segment ``k`` rendered into the cache (with the head and tail its transitions need), and whether
        it was there already: a cluster worker's share of a streamed scene."""
        work_dir.mkdir(parents=True, exist_ok=True)
        return self._segment_entry(tl, k, self._font_dir(work_dir), cache, cancel)[1]

    def render_preview(self, tl: Timeline, k: int, work_dir: Path, cache: Cache,
                       cancel: threading.Event | None = None) -> tuple[Path, bool]:  # fmt: skip
        """Segment ``k`` as it will play, rendered (and cached) before the rest of the timeline is known,
        and whether it was cached already: the streaming pipeline calls it as each scene is ready.
        ``execute`` later finds the same entries when the final timeline gives the segment the same
        pixels (it does, unless the scene's length changed)."""
        work_dir.mkdir(parents=True, exist_ok=True)
        fonts = self._font_dir(work_dir)
        entry, hit = self._segment_entry(tl, k, fonts, cache, cancel)
        if not transition_frames(tl.segments[k], tl)[0]:
            return entry / "seg.mp4", hit
        prev, _ = self._segment_entry(tl, k - 1, fonts, cache, cancel)
        path, t_hit = self._transition_entry(tl, k, prev, entry, cache, cancel)
        return path, hit and t_hit

    def _render_audio(self, tl: Timeline, out_dir: Path, cancel: threading.Event | None) -> None:
        mix(self.ffmpeg, tl.audio, tl.duration, out_dir, out_dir / "audio.m4a", cancel)
        for scratch in ("narration.wav", "music.wav", "premix.wav", "limited.wav"):
            (out_dir / scratch).unlink(missing_ok=True)

    def mux(self, segments: list[Path], audio: Path, tl: Timeline, out_path: Path, work: Path,
            cancel: threading.Event | None, metadata: dict[str, str]) -> None:  # fmt: skip
        """Join segments without re-encoding, add the audio, write atomically to ``out_path``."""
        listing = work / "segments.txt"
        listing.write_text(_concat_list(segments), encoding="utf-8")
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.part.mp4")
        meta: list[str] = []
        for k, v in metadata.items():
            meta += ["-metadata", f"{k}={v}"]
        cmd = [
            self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio),
            "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
            "-t", f"{tl.duration:.4f}", *meta, "-movflags", "+faststart", str(tmp),
        ]  # fmt: skip
        try:
            run(cmd, cancel=cancel, what="ffmpeg (mux)")
            os.replace(tmp, out_path)
        except OSError as exc:
            raise OutputError(f"cannot write {out_path}: {exc.strerror}") from None
        except ComposeError as exc:
            if "No space left" in str(exc):
                raise OutputError(
                    f"not enough disk space to write {out_path}", hint="free some space or choose another -o"
                ) from None
            raise
        finally:
            tmp.unlink(missing_ok=True)

    def poster(self, video: Path, at: float, out_png: Path) -> None:
        tmp = out_png.with_name(f".{out_png.name}.part.png")
        run([self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", f"{at:.3f}",
             "-i", str(video), "-frames:v", "1", str(tmp)], what="ffmpeg (poster)")  # fmt: skip
        if not tmp.exists():
            raise ComposeError("ffmpeg wrote no poster frame")
        os.replace(tmp, out_png)
