"""Native libraries (ALSA, PortAudio, Kaldi) write straight to file descriptor 2; keep that out of our one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator


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
