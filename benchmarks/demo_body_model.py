"""Time the demo body model generation (``write_demo_body_models``): wall and CPU seconds.

It runs at the start of every demo and every test session that needs a body
model, so a slow-down shows here. The test suite checks what the files hold,
never how long they took.

    python benchmarks/demo_body_model.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from synthact.demo.body_model import write_demo_body_models


def time_once() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        write_demo_body_models(Path(folder))
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for i in range(args.repeats):
        wall, cpu = time_once()
        print(f"run {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU (three genders)")


if __name__ == "__main__":
    main()
