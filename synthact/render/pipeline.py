"""A background thread that runs the CPU work of a render task while Blender renders.

Why a thread: the render call (``bpy.ops.render.render``) releases Python's
GIL while Cycles works (Blender runs it in C), and everything after it, the
EXR read, the pass decoding, the video and chunk encoding and the cache
write, is numpy, OpenEXR, libx264 and zlib, which release it too. So frame
n is decoded and coded while frame n + 1 renders, and the render call is the
only serial step. A process would need every frame's passes pickled across.

The thread runs at a lower priority (``CODING_NICE``): on a CPU render it
shares the cores with Cycles' threads, and a render waits for its slowest
thread, so a coding thread at equal priority slowed each render call by more
than the coding itself cost (640x480 on 2 cores: render calls 7-23 % slower
than the old serial loop's at equal priority, 0-8 % at nice 10). On a GPU
node the cores are mostly idle and the priority changes nothing.

The queue is bounded (``depth`` jobs): when the CPU work falls behind, the
render loop waits instead of piling up frames, so memory stays bounded.
Jobs run in submission order; the first error stops the pipeline and is
raised in the render loop at its next ``submit`` or at ``join``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_STOP = object()
CODING_NICE = 10  # added to the process's nice value, for the coding thread only (Linux)


def lower_thread_priority(increment: int) -> None:
    """Raise the calling thread's nice value; Linux only, where nice is per thread."""
    if sys.platform != "linux" or increment <= 0:
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):  # e.g. a sandbox that forbids it: only the speed changes
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))


class Pipeline:
    """Run submitted jobs, in order, on one background thread."""

    def __init__(self, depth: int = 3, name: str = "synthact-encode", nice: int = CODING_NICE):
        self._nice = nice
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.busy_s = 0.0  # time spent in jobs (the CPU work that now overlaps the render)
        self.wait_s = 0.0  # time the render loop spent blocked on a full queue or at join
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lower_thread_priority(self._nice)
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            fn, args, always = job
            if self._error is not None and not always:
                continue  # skip: the loop will raise the first error
            started = time.perf_counter()
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001  handed to the render loop, which raises it
                self._error = exc
            self.busy_s += time.perf_counter() - started

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; blocks while ``depth`` jobs are waiting."""
        self._raise()
        started = time.perf_counter()
        self._queue.put((fn, args, False))
        self.wait_s += time.perf_counter() - started

    def drain(self) -> None:
        """Wait until every submitted job has run; raise the first error."""
        started = time.perf_counter()
        done = threading.Event()
        self._queue.put((done.set, (), True))
        while not done.wait(0.05):
            if not self._thread.is_alive():
                break
        self.wait_s += time.perf_counter() - started
        self._raise()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
            return
        # The render loop's own error is the one to see, not a later one from closing.
        with contextlib.suppress(BaseException):
            self.close()
