"""The embedded engine's worker: llama.cpp's server, in-process through xllamacpp.

rigbench runs this module as its own child process (``python -m
rigbench.engines._embedded_worker CONFIG``) so that llama.cpp's log can be kept in a
file, a crash or abort inside llama.cpp cannot take measured results with it, and a
stalled engine can be stopped. It prints one JSON line on stdout once the server
listens, then serves until its stdin closes, it receives SIGTERM, or the process that
started it is gone (rigbench killed outright, whose pipe another process may still hold
open: the worker then stops within a second instead of serving on as an orphan).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any


def _exit_with_parent(parent: int, interval_s: float = 1.0) -> None:
    """Stop this process once its parent is gone (it is re-parented: getppid changes)."""
    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(interval_s)
        os._exit(0)

    threading.Thread(target=watch, name="rigbench-parent-watch", daemon=True).start()


def _serve(cfg: dict[str, Any]) -> int:
    import xllamacpp as xl

    from rigbench.engines.flags import apply_to_params

    params = xl.CommonParams()
    params.model.path = cfg["model"]
    params.hostnames = ["127.0.0.1"]
    params.port = int(cfg.get("port", 0))
    params.endpoint_metrics = True
    params.endpoint_props = True
    params.endpoint_slots = True
    params.verbosity = int(cfg.get("verbosity", 4))
    flags = dict(cfg.get("flags") or {})
    if "c" not in flags:
        params.n_ctx = 0  # as llama-server: the model's training context
    unmapped = apply_to_params(params, flags, xl)
    for key, value in (cfg.get("speculative") or {}).items():
        target = params.speculative
        *path, last = key.split(".")
        for p in path:
            target = getattr(target, p)
        setattr(target, last, value)
    try:
        server = xl.Server(params)
    except Exception as exc:  # llama.cpp reports load failures as exceptions
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    info = {
        "listening": server.listening_address,
        "unmapped": unmapped,
        "xllamacpp": getattr(xl, "__version__", None),
        "build_info": {k: str(v) for k, v in dict(getattr(xl, "BUILD_INFO", {}) or {}).items()},
        "system_info": xl.get_system_info(),
    }
    print(json.dumps(info), flush=True)

    def _term(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _term)
    try:
        sys.stdin.read()  # EOF when rigbench closes the pipe or exits
    except KeyboardInterrupt:
        pass
    finally:
        del server
    return 0


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # rigbench decides when we stop
    _exit_with_parent(os.getppid())
    cfg = json.loads(sys.argv[1])
    return _serve(cfg)


if __name__ == "__main__":
    sys.exit(main())
