"""`rekindle listen` end to end: virtual ALSA microphone -> endpointing -> PocketSphinx -> dialog -> output.

The microphone is tests/alsa/vmic.conf reading a raw file made of synthesised speech and silence; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers_cli import ctrl_c_as_in_a_terminal

from audio.chunk import AudioChunk

ROOT = Path(__file__).resolve().parents[1]
ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
VMIC_CONF = ROOT / "tests" / "alsa" / "vmic.conf"
REKINDLE = Path(sys.executable).with_name("rekindle")

pytestmark = pytest.mark.skipif(not ALSA_CONF.exists(), reason="ALSA is not installed here")


def quiet(seconds: float, seed: int = 1) -> bytes:
    """A -60 dBFS noise floor (a real room is never digital zero)."""
    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0, 32768 * 10 ** (-60 / 20), int(16000 * seconds))
    return samples.astype("<i2").tobytes()


def mic_file(path: Path, clips: list[AudioChunk], gap_s: float = 1.5, tail_s: float = 60.0) -> Path:
    """Speech clips separated by quiet gaps, then a long quiet tail (the device replays stale audio past EOF)."""
    parts = [quiet(0.5)]
    for n, clip in enumerate(clips):
        parts += [clip.audio, quiet(gap_s, seed=n + 2)]
    parts.append(quiet(tail_s, seed=99))
    path.write_bytes(b"".join(parts))
    return path


def listen(
    tmp_path: Path,
    raw: Path,
    expected_turns: int,
    *extra: str,
    timeout: float = 120.0,
    stop: signal.Signals = signal.SIGINT,
) -> tuple[list[dict], int, str]:
    """Run `rekindle listen --json --mute` on the virtual mic until `expected_turns` turns came out, then Ctrl-C
    (or `stop`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(
        {
            "ALSA_CONFIG_PATH": f"{ALSA_CONF}:{VMIC_CONF}",
            "VMIC_FILE": str(raw),
            "VSPK_FILE": str(tmp_path / "speaker.wav"),
        }
    )
    process = subprocess.Popen(
        [str(REKINDLE), "--data-dir", str(tmp_path / "data"), "listen", "--json", "--mute", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    assert process.stdout is not None
    lines: list[dict] = []
    deadline = time.monotonic() + timeout
    while len([x for x in lines if "intent" in x]) < expected_turns and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break  # too few turns: fail on the assertion, not by hanging
        line = process.stdout.readline()
        if not line:
            break
        lines.append(json.loads(line))
    process.send_signal(stop)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        stacks = _stacks(process.pid)
        process.kill()
        _, err = process.communicate()
        err += f"\n(no exit 30 s after Ctrl-C; its threads were:)\n{stacks}"
    return lines, process.returncode, err


def _stacks(pid: int) -> str:
    """Where a hung process is stuck (py-spy from the bench extras; empty when it is not installed)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return ""
    dump = subprocess.run(
        [str(spy), "dump", "--native", "--pid", str(pid)], capture_output=True, text=True, check=False
    )
    return dump.stdout + dump.stderr


def test_spoken_commands_get_replies(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    raw = mic_file(tmp_path / "mic.raw", [say("give us a conversation starter"), say("give me a date night idea")])
    lines, code, err = listen(tmp_path, raw, 2)
    assert [x["intent"] for x in lines] == ["conversation_starter", "date_idea"], err
    assert all(x["reply"] for x in lines)
    assert code == 0, err
    assert "Traceback" not in err


def test_a_service_manager_stop_ends_it_cleanly(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    raw = mic_file(tmp_path / "mic.raw", [say("give us a date idea")])
    lines, code, err = listen(tmp_path, raw, 1, stop=signal.SIGTERM)
    assert [x["intent"] for x in lines] == ["date_idea"], err
    assert code == 0, err
    assert "Traceback" not in err


def test_gratitude_follow_up_is_dictation_and_keeps_the_clip(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    clips = [say("log something i'm grateful for"), say("my partner made me breakfast this morning")]
    lines, _code, err = listen(tmp_path, mic_file(tmp_path / "mic.raw", clips), 2)
    assert [x["intent"] for x in lines] == ["log_gratitude", "log_gratitude"], err
    entries = json.loads(
        subprocess.run(
            [str(REKINDLE), "--data-dir", str(tmp_path / "data"), "journal", "list", "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert len(entries) == 1 and entries[0]["source"] == "voice"
    assert Path(entries[0]["audio"]).is_file()
    assert "breakfast" in entries[0]["text"]


def test_speech_that_is_not_a_command_gets_no_reply(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    clips = [say("what's the weather like tomorrow in paris"), say("give me a date night idea")]
    lines, _code, err = listen(tmp_path, mic_file(tmp_path / "mic.raw", clips), 1)
    assert [x["intent"] for x in lines] == ["date_idea"], err


def test_commands_in_a_noisy_room(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    """Steady pink noise under the whole stream (a fan in the room), about 10 dB below the speech: the live noise
    suppressor engages and the commands are answered."""
    from audio.synth import pink_noise

    commands = ["give us a deep question", "stop", "read me my gratitude journal", "next"]
    raw = mic_file(tmp_path / "mic.raw", [say(text) for text in commands], tail_s=20.0)
    clean = np.frombuffer(raw.read_bytes(), dtype="<i2").astype(np.float64)
    frames = clean[: clean.size // 160 * 160].reshape(-1, 160)
    levels = np.sqrt(np.mean(frames**2, axis=1))
    speech_rms = float(np.sqrt(np.mean(frames[levels > 32768 * 0.01] ** 2)))  # frames above -40 dBFS
    noise = pink_noise(clean.size, np.random.default_rng(7)) * speech_rms / 10 ** (10 / 20)
    raw.write_bytes(np.clip(clean + noise, -32768, 32767).astype("<i2").tobytes())
    lines, code, err = listen(tmp_path, raw, len(commands))
    assert [x["intent"] for x in lines] == ["conversation_starter", "stop", "review_gratitude", "next"], err
    assert code == 0, err


_UNTEMPLATED = "we're having dinner, give us something to talk about"
"""A request no template holds: the grammar rejects it, its second chance (dictated, read again) understands it."""


def test_always_on_gives_rejected_speech_no_second_chance(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    clips = [say(_UNTEMPLATED), say("give me a date night idea")]
    lines, _code, err = listen(tmp_path, mic_file(tmp_path / "mic.raw", clips), 1)
    assert [x["intent"] for x in lines] == ["date_idea"], err  # unaddressed speech is the room talking


def test_after_the_wake_word_rejected_speech_gets_its_second_chance(
    tmp_path: Path, say: Callable[..., AudioChunk]
) -> None:
    clips = [say("alexa"), say(_UNTEMPLATED)]
    lines, _code, err = listen(tmp_path, mic_file(tmp_path / "mic.raw", clips), 1, "--wake-word", "alexa")
    assert [x["intent"] for x in lines] == ["conversation_starter"], err
    assert "dinner" in lines[0]["transcript"]
