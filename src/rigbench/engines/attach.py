"""Attach to any OpenAI-compatible server at a URL: LM Studio, Ollama, vLLM, MLX, a running
llama-server. Nothing is launched and nothing is stopped."""

from __future__ import annotations

from rigbench.errors import UsageError
from rigbench.types import EngineSpec, ServerFacts

__all__ = ["AttachEngine", "normalize_base_url"]


def normalize_base_url(url: str) -> str:
    u = url.strip().rstrip("/")
    if not u.startswith(("http://", "https://")):
        if "://" in u:
            raise UsageError(f"unsupported URL scheme in {url!r}", "use http:// or https://")
        u = "http://" + u
    for suffix in ("/chat/completions", "/completions", "/models"):
        if u.endswith(suffix):
            u = u[: -len(suffix)]
    return u


class AttachEngine:
    kind = "url"

    def __init__(self, spec: EngineSpec) -> None:
        if not spec.url:
            raise UsageError("no URL given", "pass --url http://127.0.0.1:PORT/v1")
        self.spec = spec

    def start(self) -> ServerFacts:
        # The probe (client.probe) finds the API root and checks the server answers.
        return ServerFacts(base_url=normalize_base_url(self.spec.url or ""), kind="url")

    def stop(self) -> None:
        return None

    def alive(self) -> bool:
        return True
