"""Imported by the emulator's Python at start-up (`emulator.sh` puts this folder on PYTHONPATH).

Why: MiniStack keeps every table item as parsed JSON, a dict per attribute value, and the tables of
`make bench` (fresh ones per phase) reach millions of such objects. CPython's full (generation 2)
collection walks them all: it took 1.7-3.2 s each, every 15-40 s, and the whole emulator stopped
meanwhile. Every service waiting on it stalled at once, which is what the bench's worst webhook
p99s and CPU ratios measured.

What: after each full collection, whatever survived it is moved to the permanent generation
(`gc.freeze`), so the next full collection walks only what came since. Survivors are live data
(items, messages, the server itself); the cost is that a frozen object which later becomes
garbage only through a reference cycle is never freed. Items and messages hold no cycles, so
that is a few objects per freeze. `EMULATOR_GC_FREEZE=0` turns the freezing off.

Any collection over 100 ms is logged on stderr (the emulator's log), so a pause can be told from
a slow service.
"""
import gc
import os
import sys
import time

_SLOW_SECS = 0.1


def _install():
    freeze = os.environ.get("EMULATOR_GC_FREEZE", "1") != "0"
    started = [0.0]

    def on_collect(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        if took > _SLOW_SECS:
            print(
                f"emulator gc: generation {info['generation']} collection took {took * 1000:.0f} ms",
                file=sys.stderr,
                flush=True,
            )
        # At the end of a full collection every generation holds only what survived it (the
        # collection has finished when "stop" is called, and no other can start meanwhile), so
        # freezing here freezes live objects and nothing else.
        if freeze and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(on_collect)


try:
    _install()
except Exception as e:  # a tuning hook must never stop the emulator from starting
    print(f"sitecustomize: emulator gc hook not installed: {e}", file=sys.stderr)
