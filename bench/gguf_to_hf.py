"""Convert rigbench's bundled Gemma-3-270M GGUF into a Hugging Face checkpoint, for servers
that read no GGUF (vLLM 0.32, transformers serve). Run it with a Python that has torch,
transformers and gguf (bench/real_servers.sh makes one):

    python bench/gguf_to_hf.py GGUF OUT_DIR

The GGUF's Q4_K weights are dequantized (to bfloat16), copied into a plain
``Gemma3ForCausalLM`` and saved as safetensors; the tokenizer comes from the same file.
The GGUF carries no chat template, so Gemma's own (the turn markers
``<start_of_turn>user`` / ``<start_of_turn>model``) is set. Prints one JSON line: the
output directory, its parameter count and the file it came from.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{% if role == 'system' %}{% set role = 'user' %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + (message['content'] | trim) + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


def main(gguf: str, out: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3ForCausalLM, GgufConfig

    src = Path(gguf).resolve()
    dst = Path(out)
    with tempfile.TemporaryDirectory() as tmp:  # transformers wants a directory holding the file
        link = Path(tmp) / src.name
        link.symlink_to(src)
        loaded = AutoModelForCausalLM.from_pretrained(
            tmp, gguf_file=src.name, quantization_config=GgufConfig(dequantize=True), dtype=torch.bfloat16)
        tok = AutoTokenizer.from_pretrained(tmp, gguf_file=src.name)
    config = loaded.config
    config.quantization_config = None
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = Gemma3ForCausalLM(config).to(torch.bfloat16)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    missing = [m for m in missing if not m.endswith("lm_head.weight")]  # tied to the embeddings
    if missing or unexpected:
        raise SystemExit(f"state dicts differ: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if dst.exists():
        shutil.rmtree(dst)
    plain.save_pretrained(dst, safe_serialization=True)
    tok.chat_template = GEMMA_TEMPLATE
    tok.save_pretrained(dst)
    params = sum(p.numel() for p in plain.parameters())
    print(json.dumps({"out": str(dst.resolve()), "params": params, "from": str(src)}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python bench/gguf_to_hf.py GGUF OUT_DIR")
    main(sys.argv[1], sys.argv[2])
