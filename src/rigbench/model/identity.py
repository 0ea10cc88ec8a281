"""Whether two servers serve the same model: by file identity, then by the weights'
shape, and by the served name only as a last resort.

A GGUF file and a Hugging Face directory converted from it are the same weights in two
formats: neither path nor bytes match, but the parameter count does (read from the GGUF
header, or from the safetensors headers, which list every tensor's shape). Only headers
are read, never the weights themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["safetensors_params", "same_model", "weights_identity"]

_HEAD = 1 << 20  # bytes hashed from each end of a file
_MAX_HEADER = 100 << 20  # a safetensors header larger than this is not read


def safetensors_params(directory: Path) -> int | None:
    """Parameters in a directory's ``*.safetensors`` files, from their JSON headers."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        try:
            with f.open("rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                if n > _MAX_HEADER:
                    return None
                header = json.loads(fh.read(n))
        except (OSError, ValueError, struct.error):
            return None
        for name, info in header.items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            count = 1
            for dim in info.get("shape") or []:
                count *= int(dim)
            total += count
    return total


def _file_digest(path: Path) -> str | None:
    try:
        size = path.stat().st_size
        h = hashlib.sha256(str(size).encode())
        with path.open("rb") as fh:
            h.update(fh.read(_HEAD))
            if size > 2 * _HEAD:
                fh.seek(size - _HEAD)
                h.update(fh.read(_HEAD))
    except OSError:
        return None
    return h.hexdigest()[:32]


def weights_identity(path: str | None) -> dict[str, Any] | None:
    """What identifies the weights at ``path`` (a GGUF file or a Hugging Face directory):
    its real path, a digest of a file's size and ends, and the parameter count."""
    if not path or not os.path.exists(path):
        return None
    p = Path(path).resolve()
    out: dict[str, Any] = {"realpath": str(p), "digest": None, "params": None}
    if p.is_file():
        out["digest"] = _file_digest(p)
        try:
            from rigbench.model.facts import model_facts

            out["params"] = model_facts(p).params_total or None
        except Exception:  # not a GGUF we can read: the digest still identifies it
            out["params"] = None
    elif p.is_dir():
        out["params"] = safetensors_params(p)
    return out


def same_model(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[bool | None, str]:
    """(same?, how it was judged) for two model-info dicts (``path``, ``name``, ``params``).
    The weights decide where they are known; the served names only when nothing else is."""
    ia, ib = weights_identity(a.get("path")), weights_identity(b.get("path"))
    if ia and ib:
        if ia["realpath"] == ib["realpath"]:
            return True, f"the same weights at {ia['realpath']}"
        if ia["digest"] and ia["digest"] == ib["digest"]:
            return True, "identical files"
    pa = (ia or {}).get("params") or a.get("params_total") or a.get("params")
    pb = (ib or {}).get("params") or b.get("params_total") or b.get("params")
    if isinstance(pa, int) and isinstance(pb, int) and pa > 0 and pb > 0:
        if pa == pb:
            return True, f"the same parameter count, {pa:,}"
        return False, f"{pa:,} against {pb:,} parameters"
    na, nb = a.get("name"), b.get("name")
    if na and nb:
        if str(na) == str(nb):
            return True, f"the name {na!s}"
        return False, f"{na!s} and {nb!s}, judged by name only"
    return None, "neither the files nor the names are known"
