"""audio/mic.py through a real ALSA device: tests/alsa/vmic.conf turns a raw file into a microphone.

Each test runs a child Python process whose ALSA configuration is the virtual device, reading
through sr.Microphone -> PyAudio -> PortAudio -> ALSA exactly as on a laptop. No mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audio.synth import PIPER, Synthesizer

pytest.importorskip("pyaudio")
ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
if not ALSA_CONF.exists():
    pytest.skip("ALSA is not installed here", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
VMIC_CONF = ROOT / "tests" / "alsa" / "vmic.conf"
SYNTH = Synthesizer(Path(__file__).parent / ".cache")

READ_CHUNKS = """
import json, sys
from audio.mic import Microphone
device = None if sys.argv[2] == "default" else int(sys.argv[2])
with Microphone(device=device, chunk_ms=30) as mic:
    out = []
    for chunk in mic.chunks():
        out.append(chunk)
        if len(out) == int(sys.argv[1]):
            break
open(sys.argv[3], "wb").write(b"".join(c.audio for c in out))
print(json.dumps({"timestamps": [c.timestamp for c in out], "rates": sorted({c.rate for c in out})}))
"""

ENDPOINTED = """
import json, sys
from audio.endpoint import Endpointer, SpeechEnded
from audio.mic import Microphone
from audio.vad import make_vad
endpointer = Endpointer(vad=make_vad(sys.argv[1]))
with Microphone() as mic:
    for n, chunk in enumerate(mic.chunks()):
        for event in endpointer.process(chunk):
            if isinstance(event, SpeechEnded):
                open(sys.argv[2], "wb").write(event.utterance.audio)
                print(json.dumps({"timestamp": event.utterance.timestamp, "reason": event.reason.value}))
                sys.exit(0)
        if n > 2000:
            print(json.dumps({"timestamp": None}))
            sys.exit(0)
"""

ERRORS = """
import json, sys
from assistant.errors import AudioError
from audio.mic import Microphone, list_microphones
found = [{"index": m.index, "name": m.name, "default": m.is_default} for m in list_microphones()]
device = None if sys.argv[1] == "default" else int(sys.argv[1])
try:
    with Microphone(device=device):
        error = None
except AudioError as exc:
    error = str(exc)
print(json.dumps({"found": found, "error": error}))
"""


def run(script: str, *args: str, config: str, vmic_file: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, "ALSA_CONFIG_PATH": config, "PYTHONPATH": str(ROOT)}
    env.pop("VMIC_FILE", None)
    if vmic_file is not None:
        env["VMIC_FILE"] = str(vmic_file)
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


VIRTUAL = f"{ALSA_CONF}:{VMIC_CONF}"


def test_microphone_reads_the_device_byte_for_byte(tmp_path: Path) -> None:
    pcm = np.random.default_rng(5).integers(-12000, 12000, 16000 * 3, dtype=np.int16).astype("<i2").tobytes()
    source = tmp_path / "in.raw"
    source.write_bytes(pcm)
    got = tmp_path / "out.raw"
    result = run(READ_CHUNKS, "50", "default", str(got), config=VIRTUAL, vmic_file=source)
    assert got.read_bytes() == pcm[: 50 * 480 * 2]
    assert result["timestamps"] == [30 * i for i in range(50)]
    assert result["rates"] == [16000]


def test_device_index_option(tmp_path: Path) -> None:
    listed = run(ERRORS, "default", config=VIRTUAL)["found"]
    vmic = next(m["index"] for m in listed if m["name"] == "vmic")
    source = tmp_path / "in.raw"
    source.write_bytes(np.arange(-16000, 16000, dtype="<i2").tobytes())
    got = tmp_path / "out.raw"
    run(READ_CHUNKS, "20", str(vmic), str(got), config=VIRTUAL, vmic_file=source)
    assert got.read_bytes() == source.read_bytes()[: 20 * 960]


def test_spoken_command_comes_through_endpointed(tmp_path: Path) -> None:
    speech = SYNTH.utterance("tell me a conversation starter", PIPER).audio
    source = tmp_path / "in.raw"
    source.write_bytes(speech + bytes(16000 * 2 * 2))
    got = tmp_path / "utterance.raw"
    result = run(ENDPOINTED, "auto", str(got), config=VIRTUAL, vmic_file=source)
    assert result["reason"] == "silence"
    utterance = got.read_bytes()
    start = result["timestamp"] * 32
    assert utterance == source.read_bytes()[start : start + len(utterance)]
    assert len(utterance) >= len(speech) // 2


def test_list_microphones_names_the_virtual_device() -> None:
    found = run(ERRORS, "default", config=VIRTUAL)
    names = [m["name"] for m in found["found"]]
    assert "vmic" in names
    assert any(m["default"] for m in found["found"])
    assert found["error"] is None


def test_no_microphone(tmp_path: Path) -> None:
    nothing = tmp_path / "nomic.conf"
    nothing.write_text("pcm.!default { type hw card 99 }\n")
    result = run(ERRORS, "default", config=str(nothing))
    assert result["found"] == []
    assert result["error"] == "no microphone found; plug one in or use `rekindle hear FILE`"


def test_device_that_does_not_exist() -> None:
    result = run(ERRORS, "99", config=VIRTUAL)
    assert result["error"].startswith("microphone 99 does not exist; choose one of: ")
    assert "(vmic)" in result["error"]
