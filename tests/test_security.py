"""Security: loopback only, and API keys never reach the database, logs, reports or errors."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from rigbench.engines.llama_server import server_argv
from rigbench.testing.fake_server import FakeServer, Script
from rigbench.types import EngineSpec

KEY = "sk-planted-0123456789-secret"


def test_llama_server_is_told_to_bind_loopback() -> None:
    spec = EngineSpec(kind="llama-server", model_path="m.gguf", server_bin="/bin/llama-server")
    argv = server_argv(spec, Path("m.gguf"), "127.0.0.1", 8080)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"


@pytest.mark.engine
def test_embedded_engine_listens_on_loopback_only(embedded_server) -> None:
    from urllib.parse import urlparse

    port = urlparse(embedded_server.base_url).port
    listening = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
                 and c.laddr and c.laddr.port == port]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)


def _all_text(root: Path) -> bytes:
    blob = b""
    for f in root.rglob("*"):
        if f.is_file():
            blob += f.read_bytes()
    return blob


def test_key_from_the_environment_is_never_stored(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    db = tmp_path / "r.db"
    with FakeServer(Script(tokens=8)) as fake:
        r = cli("run", "--url", fake.base_url, "--depths", "0", "--repeats", "1", "--no-quality", "--json",
                "--bandwidth", "10", "--db", str(db))
        assert r.code == 0, r.err
        assert fake.auth and set(fake.auth) == {f"Bearer {KEY}"}  # sent with every request
    outputs = [r.out, r.err, cli("runs", "--json", "--db", str(db)).out,
               cli("show", "1", "--json", "--db", str(db)).out, cli("show", "1", "--db", str(db)).out]
    assert all(KEY not in o for o in outputs)
    assert KEY.encode() not in _all_text(tmp_path)


def test_key_on_the_command_line_is_masked_in_the_stored_command(cli, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with FakeServer(Script(tokens=8)) as fake:
        r = cli("run", "--url", fake.base_url, "--api-key", KEY, "--depths", "0", "--repeats", "1",
                "--no-quality", "--json", "--bandwidth", "10", "--db", str(db))
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert KEY not in json.dumps(out)
    assert KEY.encode() not in _all_text(tmp_path)


def test_a_refused_key_is_not_echoed(cli, tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"error": {"message": f"bad key {self.headers.get('Authorization')}"}}).encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = cli("run", "--url", f"http://127.0.0.1:{srv.server_address[1]}/v1", "--api-key", KEY, "--no-quality",
                "--db", str(tmp_path / "r.db"))
    finally:
        srv.shutdown()
    assert r.code != 0 and "--api-key" in r.err and KEY not in r.err
    assert KEY.encode() not in _all_text(tmp_path)
