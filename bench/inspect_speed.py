"""How long ``rigbench inspect`` takes on a ~400 GB MoE GGUF (goal: under 3 s).

Writes a valid header and tensor table shaped like a DeepSeek-V3-class model at Q4_K
(61 layers, 256 routed experts + 1 shared, MLA, a 129,280-token vocabulary with merges),
makes the data section sparse with ``truncate`` (no disk used), then times:

- ``model_facts()`` in this process (the library call, imports warm);
- ``rigbench inspect FILE --json`` as a fresh process (what a user waits for).

Usage: python bench/inspect_speed.py [--dir DIR] [--repeats N] [--shards N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from gguf_factory import Q, Tensor, attn_mla, moe_ffn, write_gguf

from rigbench.model.facts import model_facts

TARGET_BYTES = 400 * 10**9


def deepseek_v3_shaped() -> tuple[dict[str, object], list[Tensor]]:
    n_layer, dense, n_embd, vocab = 61, 3, 7168, 129_280
    kv: dict[str, object] = {
        "general.name": "bench 400GB MoE", "general.file_type": 15,
        "{arch}.block_count": n_layer, "{arch}.context_length": 163_840, "{arch}.embedding_length": n_embd,
        "{arch}.feed_forward_length": 18_432, "{arch}.expert_feed_forward_length": 2048,
        "{arch}.attention.head_count": 128, "{arch}.attention.head_count_kv": 1,
        "{arch}.attention.key_length": 576, "{arch}.attention.value_length": 512,
        "{arch}.attention.key_length_mla": 192, "{arch}.attention.value_length_mla": 128,
        "{arch}.attention.q_lora_rank": 1536, "{arch}.attention.kv_lora_rank": 512,
        "{arch}.rope.dimension_count": 64, "{arch}.rope.scaling.type": "yarn", "{arch}.rope.scaling.factor": 40.0,
        "{arch}.rope.scaling.original_context_length": 4096, "{arch}.leading_dense_block_count": dense,
        "{arch}.expert_count": 256, "{arch}.expert_used_count": 8, "{arch}.expert_shared_count": 1,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": [f"token-{i:06d}" for i in range(vocab)],
        "tokenizer.ggml.token_type": [1] * vocab,
        "tokenizer.ggml.merges": [f"a{i} b{i}" for i in range(127_741)],
    }
    t: list[Tensor] = [("token_embd.weight", (n_embd, vocab), Q.Q4_K), ("output_norm.weight", (n_embd,), Q.F32),
                       ("output.weight", (n_embd, vocab), Q.Q6_K)]
    for i in range(n_layer):
        t += attn_mla(i, n_embd=n_embd, n_head=128, q_lora=1536, kv_lora=512, nope=128, rope=64, v_dim=128,
                      qtype=Q.Q4_K)
        if i < dense:
            t += [(f"blk.{i}.ffn_norm.weight", (n_embd,), Q.F32),
                  (f"blk.{i}.ffn_gate.weight", (n_embd, 18_432), Q.Q4_K),
                  (f"blk.{i}.ffn_up.weight", (n_embd, 18_432), Q.Q4_K),
                  (f"blk.{i}.ffn_down.weight", (18_432, n_embd), Q.Q6_K)]
        else:
            t += moe_ffn(i, n_embd=n_embd, n_ff_exp=2048, n_expert=256, shared=True, qtype=Q.Q4_K)
            t.append((f"blk.{i}.exp_probs_b.bias", (256,), Q.F32))
    return kv, t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="where to write the sparse file (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shards", type=int, default=1, help="split into about this many shards")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        kv, tensors = deepseek_v3_shaped()
        t0 = time.perf_counter()
        per_shard = -(-len(tensors) // args.shards) if args.shards > 1 else 0
        paths = write_gguf(Path(tmp) / "moe-400g.gguf", "deepseek2", kv, tensors, split_max_tensors=per_shard)
        total = sum(p.stat().st_size for p in paths)
        if len(paths) == 1 and total < TARGET_BYTES:  # pad the data section out to 400 GB, still sparse
            with open(paths[0], "r+b") as f:
                f.truncate(TARGET_BYTES)
            total = TARGET_BYTES
        header = sum(p.stat().st_blocks * 512 for p in paths)
        print(f"wrote {len(paths)} file(s): {total / 1e9:,.1f} GB apparent, {header / 1e6:,.2f} MB on disk, "
              f"{len(tensors):,} tensors, in {time.perf_counter() - t0:.1f} s")

        lib: list[float] = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            facts = model_facts(str(paths[0]), ctx=131_072)
            lib.append(time.perf_counter() - t0)
        cli: list[float] = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rigbench", "inspect", str(paths[0]), "--ctx", "128k", "--json"],
                           check=True, stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - t0)
    print(f"model: {facts.params_total / 1e9:,.1f} B params, {facts.params_active / 1e9:,.1f} B active, "
          f"{facts.weights_bytes / 1e9:,.1f} GB of weights, {facts.active_bytes_per_token / 1e9:,.2f} GB read a token, "
          f"KV {facts.kv_bytes_per_token:,} B a token, max context {facts.max_context:,}")
    for label, times in (("model_facts() in process:     ", lib), ("rigbench inspect (new process):", cli)):
        print(f"{label} best {min(times) * 1000:7.1f} ms, median {statistics.median(times) * 1000:7.1f} ms "
              f"over {len(times)}")
    verdict = "PASS" if max(cli) < 3.0 else "FAIL"
    print(f"goal < 3 s for the whole command: {verdict} (slowest {max(cli):.2f} s)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
