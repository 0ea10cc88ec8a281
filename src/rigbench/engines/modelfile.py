"""Checks on a model file before any server is asked to load it."""

from __future__ import annotations

import os
from pathlib import Path

from rigbench.errors import GGUFError, InputError

__all__ = ["check_gguf_path", "default_start_timeout"]


def check_gguf_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"model file not found: {p}", "check the path to the .gguf file")
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a model file", "give the path of the .gguf file itself")
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
    except PermissionError:
        raise InputError(f"cannot read {p}: permission denied", f"check its permissions (chmod +r {p})") from None
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}", "check the file") from None
    if magic != b"GGUF":
        raise GGUFError(f"{p} is not a GGUF file (it starts with {magic!r})",
                        "give a .gguf model; convert others with llama.cpp's convert_hf_to_gguf.py")
    return p.resolve()


def default_start_timeout(model: Path | None) -> float:
    """Loading is read-bound: allow 60 s plus 30 s per GB of weights."""
    size_gb = 0.0
    if model is not None:
        try:
            size_gb = model.stat().st_size / 1e9
        except OSError:
            pass
    return 60.0 + 30.0 * size_gb
