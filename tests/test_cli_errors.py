"""Bad input: one line that says what to do, a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_missing_model_file(cli, tmp_path: Path) -> None:
    r = cli("run", str(tmp_path / "nope.gguf"), "--db", str(tmp_path / "r.db"), "--no-quality")
    assert r.code == 2 and "not found" in one_line(r.err)


def test_not_a_gguf(cli, tmp_path: Path) -> None:
    f = tmp_path / "x.gguf"
    f.write_bytes(b"PK\x03\x04 not a model")
    r = cli("run", str(f), "--db", str(tmp_path / "r.db"), "--no-quality")
    assert r.code == 2 and "not a GGUF" in one_line(r.err)


def test_unreadable_gguf(cli, tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    f = tmp_path / "x.gguf"
    f.write_bytes(b"GGUF")
    f.chmod(0)
    r = cli("run", str(f), "--db", str(tmp_path / "r.db"))
    assert r.code == 2 and "permission" in one_line(r.err)


@pytest.mark.parametrize("depths", ["1,,2", "abc", "-1", "0,1.5"])
def test_malformed_depth_list(cli, tmp_path: Path, depths: str) -> None:
    r = cli("run", "--depths", depths, "--db", str(tmp_path / "r.db"))
    assert r.code == 2 and "depth" in one_line(r.err).lower()


def test_refused_url(cli, tmp_path: Path) -> None:
    from rigbench.engines.base import free_port

    r = cli("run", "--url", f"http://127.0.0.1:{free_port()}/v1", "--db", str(tmp_path / "r.db"), "--no-quality")
    assert r.code != 0 and "nothing is listening" in one_line(r.err)


def test_not_openai_compatible(cli, tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = cli("run", "--url", f"http://127.0.0.1:{srv.server_address[1]}", "--db", str(tmp_path / "r.db"))
        assert r.code != 0 and "not as an OpenAI-compatible server" in one_line(r.err)
    finally:
        srv.shutdown()


def test_server_binary_missing(cli, tmp_path: Path) -> None:
    from rigbench.engines.bundled import bundled_model_path

    r = cli("run", str(bundled_model_path()), "--server", str(tmp_path / "llama-server"), "--db",
            str(tmp_path / "r.db"), "--no-quality")
    assert r.code != 0 and "not found" in one_line(r.err)


@pytest.mark.parametrize(("script", "needles"), [
    # a build that refuses to start: its exit code and the last line of its log
    ("echo 'error: this build is broken' >&2\nexit 3", ("exited with code 3", "this build is broken")),
    # a llama.cpp built with -march=native (or AMX) on another CPU dies of SIGILL while loading
    ("echo 'load_tensors: CPU model buffer size = 241.39 MiB' >&2\nkill -ILL $$",
     ("killed by SIGILL", "-DGGML_NATIVE=OFF")),
])
def test_server_binary_that_fails_to_start_says_why(cli, tmp_path: Path, script: str, needles: tuple[str, ...]) -> None:
    from rigbench.engines.bundled import bundled_model_path

    fake = tmp_path / "llama-server"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    r = cli("run", str(bundled_model_path()), "--server", str(fake), "--db", str(tmp_path / "r.db"), "--no-quality")
    line = one_line(r.err)
    assert r.code != 0 and all(n in line for n in needles), line


def test_port_in_use(cli, tmp_path: Path) -> None:
    import socket

    from rigbench.engines.bundled import bundled_model_path

    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = cli("run", str(bundled_model_path()), "--server", str(fake), "--db", str(tmp_path / "r.db"),
                "--", "--port", str(port))
        assert r.code != 0 and "in use" in one_line(r.err)
    finally:
        s.close()


def test_unwritable_db(cli, tmp_path: Path) -> None:
    r = cli("runs", "--db", str(tmp_path))
    assert r.code == 5 and "--db" in one_line(r.err)


@pytest.mark.parametrize("args", [["run", "--bogus"], ["run", "--repeats", "zero"], ["nosuchcommand"],
                                  ["run", "-fa", "maybe"], ["run", "-b", "128", "-ub", "512"],
                                  ["run", "--url", "http://x", "m.gguf"], ["run", "--", "-c", "5"]])
def test_usage_errors_are_one_line(cli, tmp_path: Path, args: list[str]) -> None:
    r = cli(*args, "--db", str(tmp_path / "r.db")) if args[0] == "run" else cli(*args)
    assert r.code == 2
    one_line(r.err)


def test_show_unknown_run(cli, tmp_path: Path) -> None:
    r = cli("show", "99", "--db", str(tmp_path / "r.db"))
    assert r.code == 2 and "no run 99" in one_line(r.err)


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:
    r = cli("show", "99", "--db", str(tmp_path / "r.db"), "--debug")
    assert "Traceback" in r.err
