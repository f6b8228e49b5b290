"""Found by the soak test: the first requests a fresh server answers at once (4 POSTs) could be refused with
"unknown narration backend 'piper'; available: none installed", because the registry marked its entry points
loaded before it had loaded them. Every thread must see every built-in backend."""

from __future__ import annotations

import threading

from reelforge.registry import Registry

WANTED = (("narration", "piper"), ("visuals", "procedural"), ("script", "template"), ("music", "synth"),
          ("compose", "ffmpeg"))  # fmt: skip


def look_up_together(reg: Registry, n: int) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def look() -> None:
        barrier.wait()
        try:
            for stage, name in WANTED:
                reg.get(stage, name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=look) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_a_fresh_registry_is_complete_for_every_thread() -> None:
    for _ in range(20):
        errors = look_up_together(Registry(), 8)
        assert not errors, errors[0]
