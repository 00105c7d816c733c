"""Speech models Rekindle can download on request, and where it looks for them.

Nothing is fetched at run time: `download` runs only when the person asks for it
(`rekindle models download NAME`). Downloads resume after a cut (an HTTP Range request into a
`.part` file), are checked against the expected size and SHA-256 before anything is unpacked,
and are unpacked into a temporary folder beside the target that is renamed into place, so an
interrupted or rejected download never leaves a half-installed model.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelError

_LOGGER = logging.getLogger(__name__)

_BLOCK = 64 * 1024
"""Bytes read from the network at a time."""
_TIMEOUT_S = 30.0
"""Seconds to wait for the server to answer or send more data."""
ENV_VOSK_MODEL = "REKINDLE_VOSK_MODEL"
"""Environment variable naming a Vosk model folder to use."""


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable model archive."""

    url: str
    """Where the zip archive is published."""
    dirname: str
    """The top-level folder inside the archive."""
    size: int | None = None
    """Bytes of the archive; None when unknown (then only the download's own length is checked)."""
    sha256: str | None = None
    """Hex SHA-256 of the archive; None when unknown (then the archive is not checked)."""
    description: str = ""
    """One line for `rekindle models list`."""
    marker: str = "am/final.mdl"
    """A file every complete copy of the model has (relative to its folder)."""


MODELS: dict[str, ModelSpec] = {
    "vosk-small-en": ModelSpec(
        url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        dirname="vosk-model-small-en-us-0.15",
        size=41_205_931,
        sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
        description="Vosk small US English: 40 MB download, about 300 MB of memory, Apache-2.0",
    ),
}
"""Models by the name used on the command line."""


@dataclass(frozen=True)
class ModelStatus:
    """One known model and whether it is installed."""

    name: str
    """Registry name, e.g. "vosk-small-en"."""
    spec: ModelSpec
    """What would be downloaded."""
    path: Path
    """Where it is (or would be) installed."""
    installed: bool
    """True when a complete copy is at `path`."""


def models_dir(data_dir: Path) -> Path:
    """The folder under the data directory that holds downloaded models."""
    return Path(data_dir) / "models"


def list_models(data_dir: Path) -> list[ModelStatus]:
    """Every model in the registry with its install location and state."""
    statuses = []
    for name, spec in MODELS.items():
        path = models_dir(data_dir) / name
        statuses.append(ModelStatus(name, spec, path, (path / spec.marker).is_file()))
    return statuses


def find_vosk_model(explicit: Path | None, data_dir: Path) -> Path | None:
    """The Vosk model folder to use: `explicit`, then $REKINDLE_VOSK_MODEL, then a downloaded one.

    An explicit or environment path is returned as given (loading it reports any problem);
    downloaded models count only when complete. None means no model is available.
    """
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get(ENV_VOSK_MODEL)
    if env:
        return Path(env).expanduser()
    spec = MODELS["vosk-small-en"]
    for candidate in (models_dir(data_dir) / "vosk-small-en", models_dir(data_dir) / spec.dirname):
        if (candidate / spec.marker).is_file():
            return candidate
    return None


def download(name: str, data_dir: Path, url: str | None = None, progress: bool = True) -> Path:
    """Download, check and unpack model `name` into data_dir/models/NAME; returns that folder.

    `url` replaces the published address (a mirror or a local copy); the archive must still
    match the expected size and checksum. An installed model is left as it is.
    """
    spec = MODELS.get(name)
    if spec is None:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    root = models_dir(data_dir)
    target = root / name
    if (target / spec.marker).is_file():
        _LOGGER.info("model %s is already installed at %s", name, target)
        return target
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create {root}: {exc.strerror}; pass --data-dir with a writable folder") from exc
    part = root / f"{name}.zip.part"
    _fetch(url or spec.url, part, spec, progress)
    _verify(part, spec, name)
    _unpack(part, target, spec, name)
    part.unlink(missing_ok=True)
    return target


def _fetch(url: str, part: Path, spec: ModelSpec, progress: bool) -> None:
    """Bring `part` to the complete archive, resuming from what is already there."""
    import http.client  # network modules load only when downloading (start-up time of listen/hear)
    import urllib.error
    import urllib.parse
    import urllib.request

    have = part.stat().st_size if part.exists() else 0
    if spec.size is not None and have == spec.size:
        return
    if spec.size is not None and have > spec.size:
        part.unlink()
        have = 0
    host = urllib.parse.urlsplit(url).netloc or url
    request = urllib.request.Request(url, headers={"User-Agent": "rekindle"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # Nothing left to send: the .part is complete, or it is junk; the checks below decide.
            return
        raise ModelError(f"{url} answered HTTP {exc.code} {exc.reason}; pass --url with a mirror") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(f"could not reach {host}: {reason}; check the connection or pass --url with a mirror") from exc
    with response:
        if have and response.status != 206:
            _LOGGER.info("%s does not resume downloads; starting again", host)
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else spec.size
        from tqdm import tqdm

        bar = tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".zip.part"), file=sys.stderr, disable=not progress, leave=False,
        )  # fmt: skip
        try:
            received = 0
            with part.open("ab" if have else "wb") as out:
                os.chmod(part, 0o600)
                while block := response.read(_BLOCK):
                    out.write(block)
                    received += len(block)
                    bar.update(len(block))
            if length and length.isdigit() and received < int(length):
                raise ConnectionError("the connection closed early")
        except (OSError, http.client.HTTPException) as exc:
            got = part.stat().st_size if part.exists() else 0
            raise ModelError(
                f"download from {host} stopped after {got} bytes ({type(exc).__name__}: {exc}); "
                "run the same command again to resume"
            ) from exc
        finally:
            bar.close()


def _verify(part: Path, spec: ModelSpec, name: str) -> None:
    import hashlib

    size = part.stat().st_size if part.exists() else 0
    if spec.size is not None and size != spec.size:
        if size < spec.size:
            raise ModelError(
                f"download of {name} is incomplete ({size} of {spec.size} bytes); run the same command again to resume"
            )
        part.unlink()
        raise ModelError(f"download of {name} is {size} bytes, expected {spec.size}; it was deleted, try again")
    if spec.sha256 is None:
        _LOGGER.warning("no checksum is known for %s; installing it unchecked", name)
        return
    digest = hashlib.sha256()
    with part.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != spec.sha256.lower():
        part.unlink()
        raise ModelError(
            f"download of {name} does not match its SHA-256 checksum (got {digest.hexdigest()[:12]}..., "
            f"expected {spec.sha256[:12]}...); it was deleted and nothing was installed, try again or use another mirror"
        )


def _unpack(archive: Path, target: Path, spec: ModelSpec, name: str) -> None:
    """Extract beside `target`, check it, then rename it into place."""
    import shutil
    import tempfile
    import zipfile

    staging = Path(tempfile.mkdtemp(prefix=f".{name}.unpack-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    resolved = (staging / member).resolve()
                    if not resolved.is_relative_to(staging.resolve()):
                        raise ModelError(f"{name} archive holds an unsafe path {member!r}; nothing was installed")
                bundle.extractall(staging)
        except (zipfile.BadZipFile, EOFError) as exc:
            archive.unlink(missing_ok=True)
            raise ModelError(
                f"download of {name} is not a valid zip archive ({exc}); it was deleted, try again"
            ) from exc
        source = staging / spec.dirname
        if not source.is_dir():
            tops = [p for p in staging.iterdir() if p.is_dir()]
            source = tops[0] if len(tops) == 1 else staging
        if not (source / spec.marker).is_file():
            raise ModelError(
                f"{name} archive has no {spec.marker}; it is not the expected model, nothing was installed"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(source, target)
    except OSError as exc:
        raise ModelError(
            f"cannot install {name} into {target}: {exc.strerror}; check free space and permissions"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
