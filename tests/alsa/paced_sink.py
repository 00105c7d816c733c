"""A sound card's pace for tests and benchmarks: copy stdin to a file no faster than real time.

The virtual speaker in vmic.conf writes as fast as it is fed, so a playback there cannot be interrupted.
Point the ALSA `file` plugin at this instead (`VSPK_FILE="|python3 tests/alsa/paced_sink.py OUT BYTES_PER_S [FIRST]"`)
and aplay blocks as on real hardware. FIRST, if given, receives time.monotonic() of the first byte read.
Start it with `exec` so that its parent is aplay: it ends as soon as aplay is gone.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    out_path, bytes_per_second = sys.argv[1], int(sys.argv[2])
    first_path = sys.argv[3] if len(sys.argv) > 3 else None
    block = max(2, bytes_per_second // 100)
    total = 0
    start: float | None = None
    parent = os.getppid()
    with open(out_path, "wb") as out:
        while os.getppid() == parent:
            data = os.read(0, block)
            if not data:
                break
            if start is None:
                start = time.monotonic()
                if first_path:
                    with open(first_path, "w") as first:
                        first.write(repr(start))
            out.write(data)
            out.flush()
            total += len(data)
            ahead = start + total / bytes_per_second - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


if __name__ == "__main__":
    main()
