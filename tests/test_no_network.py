"""Nothing leaves the device: every command works with the network blocked, and none even tries to use it.

Two blocks, each command run under both:
- `python-block`: a sitecustomize.py on PYTHONPATH makes every Internet socket, address lookup and connection
  fail and writes each attempt to a log, so a test can show that nothing *tried* (runs anywhere).
- `netns`: `unshare -n` runs the command in a new network namespace with no interfaces up, so native libraries
  (espeak-ng, PortAudio, ALSA) are cut off too (needs root; skipped otherwise).

`rekindle models download` is the one command meant to use the network: under the block it must fail with one
clear line.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers_cli import REKINDLE, TIMEOUT, clean_env, json_lines, one_error_line, rekindle

SPEECH_READY = all(importlib.util.find_spec(m) is not None for m in ("audio.recognize", "audio.stt.registry"))

SITECUSTOMIZE = '''
"""Test-only: block Internet access for this Python process and log every attempt."""
import errno
import os
import socket

_LOG = os.environ["REKINDLE_NET_LOG"]


def _record(what):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(what + "\\n")


_record("loaded")
_NET = (socket.AF_INET, socket.AF_INET6)
_real_init = socket.socket.__init__
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _init(self, family=-1, type=-1, proto=0, fileno=None):
    if fileno is None and (socket.AF_INET if family == -1 else family) in _NET:
        _record(f"socket family={family} type={type}")
        raise OSError(errno.ENETUNREACH, "network blocked by the test")
    _real_init(self, family, type, proto, fileno)


def _connect(self, address):
    if self.family in _NET:
        _record(f"connect {address!r}")
        raise OSError(errno.ENETUNREACH, "network blocked by the test")
    return _real_connect(self, address)


def _connect_ex(self, address):
    if self.family in _NET:
        _record(f"connect_ex {address!r}")
        return errno.ENETUNREACH
    return _real_connect_ex(self, address)


def _getaddrinfo(host, *args, **kwargs):
    _record(f"getaddrinfo {host!r}")
    raise socket.gaierror(socket.EAI_NONAME, "network blocked by the test")


def _gethostbyname(host):
    _record(f"gethostbyname {host!r}")
    raise socket.gaierror(socket.EAI_NONAME, "network blocked by the test")


socket.socket.__init__ = _init
socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo
socket.gethostbyname = _gethostbyname
'''

EXPORT = [{"id": 7, "created_at": "2026-02-14T20:00:00+01:00", "text": "the candle-lit dinner", "source": "text"}]

COMMANDS: dict[str, tuple[list[str], str]] = {
    "chat": (
        ["chat", "--json", "--mute"],
        "give me a conversation starter\nI'm grateful that we cooked together\nwhat am I grateful for this week\n"
        "give me a date night idea\ngive me a tip about active listening\nstart date night\nend date night\nhelp\n",
    ),
    "ask": (["ask", "--json", "--mute", "I'm grateful that you listened"], ""),
    "ask-speaking": (["ask", "give me a tip about romance"], ""),
    "journal-list": (["journal", "list", "--json"], ""),
    "journal-export-json": (["journal", "export", "--format", "json", "-o", "OUT/x.json"], ""),
    "journal-export-csv": (["journal", "export", "--format", "csv", "-o", "OUT/x.csv"], ""),
    "journal-export-markdown": (["journal", "export", "--format", "markdown", "-o", "OUT/x.md"], ""),
    "journal-import": (["journal", "import", "OUT/import.json"], ""),
    "journal-delete": (["journal", "delete", "1"], ""),
    "say": (["say", "Welcome to date night", "-o", "OUT/say.wav"], ""),
    "models-list": (["models", "list"], ""),
    "doctor": (["doctor"], ""),
    "hear": (["hear", "--json", "OUT/speech.wav"], ""),
}
NEEDS_SPEECH = {"hear"}


def netns_prefix() -> list[str] | None:
    """`unshare -n` as root; as a user, `unshare -rn` (a user namespace, where the kernel allows it); else None."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0:
            return prefix
    return None


NETNS = netns_prefix()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with two entries, made with the network available."""
    data = tmp_path_factory.mktemp("seed") / "data"
    for text in ("the morning coffee", "your patience"):
        assert rekindle("ask", "--mute", f"I'm grateful for {text}", data_dir=data).returncode == 0
    return data


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spoken request as a WAV (espeak-ng through `rekindle say`, made before any block)."""
    wav = tmp_path_factory.mktemp("speech") / "speech.wav"
    done = rekindle("say", "give me a conversation starter", "-o", wav)
    assert done.returncode == 0, done.stderr
    return wav


def blocked(
    how: str, args: list[str], data: Path, stdin: str, log: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """Run `rekindle --data-dir DATA ARGS` with the network blocked the given way."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = clean_env(PYTHONPATH=str(site), REKINDLE_NET_LOG=str(log))
    prefix = [*(NETNS or []), "--"] if how == "netns" else []
    return subprocess.run(
        [*prefix, str(REKINDLE), "--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=TIMEOUT,
        check=False,
    )


def block_ways() -> list[object]:
    skip_netns = pytest.mark.skipif(NETNS is None, reason="neither `unshare -n` nor `unshare -rn` is permitted here")
    return ["python-block", pytest.param("netns", marks=skip_netns)]


@pytest.mark.parametrize("how", block_ways())
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_works_offline_and_nothing_tries_the_network(
    seeded: Path, speech_wav: Path, tmp_path: Path, how: str, name: str
) -> None:
    if name in NEEDS_SPEECH and not SPEECH_READY:
        pytest.skip("audio/recognize.py (the speech engine) is not written yet")
    data = Path(shutil.copytree(seeded, tmp_path / "data"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "import.json").write_text(json.dumps(EXPORT), encoding="utf-8")
    shutil.copy(speech_wav, out / "speech.wav")
    args, stdin = COMMANDS[name]
    args = [a.replace("OUT/", f"{out}/") for a in args]
    log = tmp_path / "net.log"
    done = blocked(how, args, data, stdin, log, tmp_path)

    assert "Traceback" not in done.stderr, done.stderr
    if name == "doctor":  # this machine has no sound card: doctor says so (exit 1) and checks the rest
        assert done.returncode in (0, 1), done.stderr
        assert "ok    data directory:" in done.stdout
        assert "ok    speech model (pocketsphinx):" in done.stdout
        assert "ok    text to speech:" in done.stdout
    else:
        assert done.returncode == 0, done.stderr
    if name == "chat":
        turns = json_lines(done.stdout)
        assert [t["intent"] for t in turns] == [
            "conversation_starter",
            "log_gratitude",
            "review_gratitude",
            "date_idea",
            "strategy_advice",
            "date_night_start",
            "date_night_stop",
            "help",
        ]
    if name.startswith("journal-export"):
        assert "the morning coffee" in next(out.glob("x.*")).read_text(encoding="utf-8")
    if name == "journal-import":
        assert done.stdout.strip() == "Imported 1 entries (0 already present)."
    if name == "say":
        assert (out / "say.wav").stat().st_size > 10_000
    if how == "python-block":
        attempts = log.read_text(encoding="utf-8").splitlines()
        assert attempts and set(attempts) == {"loaded"}, attempts  # the block was in place, and nothing tried


@pytest.mark.parametrize("how", block_ways())
def test_models_download_fails_with_one_clear_line_when_offline(tmp_path: Path, how: str) -> None:
    data = tmp_path / "data"
    log = tmp_path / "net.log"
    done = blocked(how, ["models", "download", "vosk-small-en"], data, "", log, tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith("rekindle: could not reach alphacephei.com: ")
    assert line.endswith("; check the connection or pass --url with a mirror")
    assert not (data / "models" / "vosk-small-en").exists()  # nothing half-installed
    if how == "python-block":
        attempts = log.read_text(encoding="utf-8").splitlines()
        assert "getaddrinfo 'alphacephei.com'" in attempts  # the block saw it: the one command that may try
