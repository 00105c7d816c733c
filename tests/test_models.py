"""audio/models.py: downloads from a real HTTP server on 127.0.0.1 (resume, checksums, atomic unpack)."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant.errors import ModelError
from audio import models
from audio.models import MODELS, ModelSpec, download, find_vosk_model, list_models


def make_zip(top: str = "vosk-model-test-0.1", with_marker: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        if with_marker:
            bundle.writestr(f"{top}/am/final.mdl", bytes(range(256)) * 400)
        bundle.writestr(f"{top}/conf/model.conf", "--beam=10.0\n")
        bundle.writestr(f"{top}/README", "a tiny stand-in model for tests\n")
    return buffer.getvalue()


@dataclass
class Server:
    """What the test server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None
    """Bytes after which the next response is cut (the connection drops), once."""
    resumable: bool = True
    ranges: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state.files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            header = self.headers.get("Range")
            if header:
                state.ranges.append(header)
            if header and state.resumable:
                start = int(header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_error(416, "Range Not Satisfiable")
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if state.cut_after is not None:
                payload, state.cut_after = payload[: state.cut_after], None
                self.wfile.write(payload)
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def register(monkeypatch: pytest.MonkeyPatch, server: Server, data: bytes, sha256: str | None = None) -> ModelSpec:
    server.files["model.zip"] = data
    spec = ModelSpec(
        url=server.url("model.zip"),
        dirname="vosk-model-test-0.1",
        size=len(data),
        sha256=sha256 if sha256 is not None else hashlib.sha256(data).hexdigest(),
    )
    monkeypatch.setitem(MODELS, "test-model", spec)
    return spec


def leftovers(data_dir: Path) -> list[str]:
    root = data_dir / "models"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_download_checks_and_unpacks(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, server, make_zip())
    path = download("test-model", tmp_path, progress=False)
    assert path == tmp_path / "models" / "test-model"
    assert (path / "am" / "final.mdl").is_file()
    assert (path / "README").read_text() == "a tiny stand-in model for tests\n"
    assert leftovers(tmp_path) == ["test-model"]


def test_progress_goes_to_stderr(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    register(monkeypatch, server, make_zip())
    download("test-model", tmp_path, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "test-model" in err


def test_resume_after_a_cut(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip()
    register(monkeypatch, server, data)
    server.cut_after = 40_000
    with pytest.raises(ModelError, match=r"stopped after 40000 bytes .*; run the same command again to resume"):
        download("test-model", tmp_path, progress=False)
    assert (tmp_path / "models" / "test-model.zip.part").stat().st_size == 40_000
    assert not (tmp_path / "models" / "test-model").exists()
    path = download("test-model", tmp_path, progress=False)
    assert server.ranges == ["bytes=40000-"]
    assert (path / "am" / "final.mdl").read_bytes() == bytes(range(256)) * 400
    assert leftovers(tmp_path) == ["test-model"]


def test_server_without_range_support_starts_again(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch, server, make_zip())
    server.resumable = False
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "test-model.zip.part").write_bytes(b"stale bytes")
    path = download("test-model", tmp_path, progress=False)
    assert (path / "am" / "final.mdl").is_file()


def test_bad_checksum_is_refused_and_nothing_is_left(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch, server, make_zip(), sha256="0" * 64)
    with pytest.raises(ModelError, match=r"does not match its SHA-256 checksum .* nothing was installed"):
        download("test-model", tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_wrong_size_is_refused(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip()
    register(monkeypatch, server, data)
    server.files["model.zip"] = data + b"extra"
    with pytest.raises(ModelError, match=f"is {len(data) + 5} bytes, expected {len(data)}"):
        download("test-model", tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_archive_without_the_model_is_refused(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, server, make_zip(with_marker=False))
    with pytest.raises(ModelError, match=r"has no am/final.mdl; .*nothing was installed"):
        download("test-model", tmp_path, progress=False)
    assert leftovers(tmp_path) == ["test-model.zip.part"]
    assert not (tmp_path / "models" / "test-model").exists()


def test_not_a_zip_is_refused(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, server, b"<html>a login page, not a model</html>")
    with pytest.raises(ModelError, match="is not a valid zip archive"):
        download("test-model", tmp_path, progress=False)
    assert leftovers(tmp_path) == []


def test_unreachable_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setitem(MODELS, "test-model", ModelSpec(url=f"http://127.0.0.1:{port}/m.zip", dirname="m"))
    with pytest.raises(ModelError) as caught:
        download("test-model", tmp_path, progress=False)
    message = str(caught.value)
    assert message.startswith(f"could not reach 127.0.0.1:{port}: ")
    assert message.endswith("; check the connection or pass --url with a mirror")


def test_http_error(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, server, make_zip())
    with pytest.raises(ModelError, match="answered HTTP 404 Not Found; pass --url with a mirror"):
        download("test-model", tmp_path, url=server.url("moved.zip"), progress=False)


def test_url_replaces_the_published_address(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip()
    spec = register(monkeypatch, server, data)
    monkeypatch.setitem(
        MODELS, "test-model", ModelSpec("http://127.0.0.1:9/gone.zip", spec.dirname, spec.size, spec.sha256)
    )
    server.files["mirror.zip"] = data
    assert (download("test-model", tmp_path, url=server.url("mirror.zip"), progress=False) / "README").is_file()


def test_installed_model_is_not_fetched_again(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, server, make_zip())
    download("test-model", tmp_path, progress=False)
    server.files.clear()
    assert download("test-model", tmp_path, progress=False) == tmp_path / "models" / "test-model"


def test_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model 'vosk-huge'; choose one of vosk-small-en"):
        download("vosk-huge", tmp_path)


def test_registry_pins_the_english_model() -> None:
    spec = MODELS["vosk-small-en"]
    assert spec.url.endswith("/vosk-model-small-en-us-0.15.zip")
    assert spec.size == 41_205_931
    assert spec.sha256 is not None and len(spec.sha256) == 64


def test_list_models(tmp_path: Path) -> None:
    statuses = {s.name: s for s in list_models(tmp_path)}
    assert not statuses["vosk-small-en"].installed
    model = tmp_path / "models" / "vosk-small-en"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"x")
    statuses = {s.name: s for s in list_models(tmp_path)}
    assert statuses["vosk-small-en"].installed
    assert statuses["vosk-small-en"].path == model


def test_find_vosk_model_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(models.ENV_VOSK_MODEL, raising=False)
    assert find_vosk_model(None, tmp_path) is None
    manual = tmp_path / "models" / "vosk-model-small-en-us-0.15"
    (manual / "am").mkdir(parents=True)
    (manual / "am" / "final.mdl").write_bytes(b"x")
    assert find_vosk_model(None, tmp_path) == manual
    downloaded = tmp_path / "models" / "vosk-small-en"
    (downloaded / "am").mkdir(parents=True)
    (downloaded / "am" / "final.mdl").write_bytes(b"x")
    assert find_vosk_model(None, tmp_path) == downloaded
    monkeypatch.setenv(models.ENV_VOSK_MODEL, str(tmp_path / "from-env"))
    assert find_vosk_model(None, tmp_path) == tmp_path / "from-env"
    assert find_vosk_model(tmp_path / "explicit", tmp_path) == tmp_path / "explicit"
