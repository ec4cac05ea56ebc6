"""Imported by the emulator's Python at start-up (`emulator.sh` puts this folder on PYTHONPATH).

Why: MiniStack keeps every table item as parsed JSON, a dict per attribute value, and the tables of
`make bench` (fresh ones per phase) reach millions of such objects. CPython's full (generation 2)
collection walks them all: it took 1.7-3.2 s each, every 15-40 s, and the whole emulator stopped
meanwhile. Every service waiting on it stalled at once, which is what the bench's worst webhook
p99s and CPU ratios measured.

What: when a full collection takes over 50 ms, whatever survived it is moved to the permanent
generation (`gc.freeze`), so the next full collections walk only what came since, until they
grow slow in turn. A small heap (`make dev`, `make test`) never gets there and is left as CPython
runs it. The cost: a frozen object that later becomes garbage only through a reference cycle is
never freed. Items and messages hold no cycles; what does (requests in flight at that moment)
is a few objects per freeze, and freezes are seconds apart at the least.

Any collection over 100 ms is logged on stderr (the emulator's log), so a pause can be told from
a slow service. `EMULATOR_GC_FREEZE=0` turns the freezing off, not the log.
"""
import gc
import os
import sys
import time

_LOG_SECS = 0.1
_FREEZE_SECS = 0.05


def _install():
    freeze = os.environ.get("EMULATOR_GC_FREEZE", "1") != "0"
    started = [0.0]

    def on_collect(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        frozen = freeze and info["generation"] == 2 and took > _FREEZE_SECS
        if took > _LOG_SECS:
            print(
                f"emulator gc: generation {info['generation']} collection took {took * 1000:.0f} ms"
                + ("; its survivors frozen" if frozen else ""),
                file=sys.stderr,
                flush=True,
            )
        # "stop" comes once the collection has finished, and no other can start meanwhile:
        # every generation holds what survived it, and freezing only moves those lists.
        if frozen:
            gc.freeze()

    gc.callbacks.append(on_collect)


try:
    _install()
except Exception as e:  # a tuning hook must never stop the emulator from starting
    print(f"sitecustomize: emulator gc hook not installed: {e}", file=sys.stderr)
