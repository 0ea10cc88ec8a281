"""A stand-in for a ``llama-server`` binary, for fault tests of the launch path.

It takes llama-server's command line (``-m MODEL --host H --port P ...``), writes a boot
log in llama.cpp's words to stderr, then serves the scripted fake server (see
``fake_server.Script``), so rigbench's real launch, health wait, log parsing and stop
code run against scripted faults. The script comes from the environment:

- ``RIGBENCH_FAKE_SCRIPT``: JSON for ``Script`` (faults, rates, ``fault_at``, ``state_file``);
- ``RIGBENCH_FAKE_START_DELAY``: seconds to "load the model" before listening;
- ``RIGBENCH_FAKE_EXIT``: exit with this code while loading (a broken build).

Use it through a tiny executable: ``#!/bin/sh`` + ``exec python -m
rigbench.testing.fake_llama_server "$@"``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from rigbench.testing.fake_server import FakeServer, Script


def _arg(argv: list[str], *names: str, default: str | None = None) -> str | None:
    for i, a in enumerate(argv):
        if a in names and i + 1 < len(argv):
            return argv[i + 1]
    return default


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    log = sys.stderr
    if "--help" in args:
        print("usage: llama-server [options]\n-lv,   --verbosity, --log-verbosity N   Set the verbosity threshold.")
        return 0
    script = Script(**json.loads(os.environ.get("RIGBENCH_FAKE_SCRIPT") or "{}"))
    script.props = True
    script.tokenize = True
    script.timings = True
    ctx = int(_arg(args, "-c", "--ctx-size", default="0") or 0)
    train = 4096
    slot = min(ctx, train) if ctx else train
    log.write("build: 9999 (fake0001) with a test harness for fault injection\n")
    log.write(f"llama_model_loader: loading model from {_arg(args, '-m', '--model')}\n")
    log.write(f"print_info: n_ctx_train = {train}\n")
    log.flush()
    delay = float(os.environ.get("RIGBENCH_FAKE_START_DELAY") or 0)
    if delay:
        time.sleep(delay)
    code = os.environ.get("RIGBENCH_FAKE_EXIT")
    if code:
        log.write("llama_model_load: error loading model: the fake was told to fail\n")
        log.flush()
        return int(code)
    if ctx > train:
        log.write(f"srv load_model: the slot context ({ctx}) exceeds the training context of the model ({train}) "
                  "- capping\n")
    log.write(f"slot load_model: id  0 | task -1 | new slot, n_ctx = {slot}\n")
    host = _arg(args, "--host", default="127.0.0.1") or "127.0.0.1"
    port = int(_arg(args, "--port", default="8080") or 8080)
    try:
        fake = FakeServer(script, port=port)
    except OSError as exc:
        log.write(f"start: couldn't bind HTTP server socket, hostname: {host}, port: {port}: {exc}\n")
        return 1
    log.write(f"main: server is listening on http://{host}:{fake.port} - starting the main loop\n")
    log.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as llama-server: stop at once on SIGTERM
    try:
        fake._srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
