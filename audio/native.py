"""Native code: libraries (ALSA, PortAudio, Kaldi) that write straight to file descriptor 2, kept out of our
one-line errors; the C heap, given back to the system after large native allocations are freed."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def native_stderr_to_log(logger: logging.Logger, label: str) -> Iterator[None]:
    """Send what native code writes to file descriptor 2 into `logger` at debug level, prefixed with `label`."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            said = sink.read().decode(errors="replace").strip()
            if said:
                logger.debug("%s said:\n%s", label, said)


def trim_heap() -> None:
    """Give freed heap pages back to the system (glibc's malloc_trim; elsewhere nothing). PocketSphinx frees its
    per-utterance tables between utterances and ONNX Runtime its model protobufs after building a session, but
    glibc keeps the pages: a long `listen` session's resident memory crept up with every longer utterance it met
    (bench/soak.py), and loading Moonshine left 46 MB of freed pages resident."""
    trim = malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
