#!/usr/bin/env bash
# Re-creates tests/data/rigbench-0.1.0.sqlite: a small database written by release 0.1.0
# (commit 61b533d), never by today's code, holding one run of every kind. It guards the
# issue-13 promise that a 0.1.0 database opens, migrates, and `rigbench show` prints the
# same figures (tests/test_fixture_0_1_0.py, goldens under tests/golden/v0_1_0/).
#
# How it was made (the commands below, as run, on a 2-core x86 Linux box, CPU only):
#   git worktree add /tmp/rb-0.1.0 61b533d
#   python -m venv /tmp/rb-old && . /tmp/rb-old/bin/activate && pip install -e /tmp/rb-0.1.0
#   tests/data/make_fixture_0_1_0.sh /tmp/fixture/rigbench.sqlite
#   cp /tmp/fixture/rigbench.sqlite tests/data/rigbench-0.1.0.sqlite
#
# Runs, in id order:
#   1 run      the bundled Gemma 3 270M, embedded, -t 1: depths 0,256 x 2 repeats, 16 tokens, and the
#              quality pass on quality_mini_0_1_0.yaml (4 prompts of the default suite, 2 answers each)
#   2 run      --session agent, embedded, -t 1 (30 scripted turns, 16 tokens each)
#   3 compare  embedded:t=1 vs embedded:t=2, depths 0,256 x 2 pairs
#   4 tune     --space t=1 ub=128,256, 2 trials, objective decode@256
#   5 lab      --lookup, one draft length (8), 2 pairs, -t 1
#   6 run      against the fake server (slow stream), interrupted with SIGINT after its warm-up: incomplete
#   7 run      against a URL where nothing listens: failed
#   8 run      as 6, interrupted after three speed requests: incomplete
# (As run, run 6 got its SIGINT from a plain `sleep 8`, which landed after the warm-up, and run 8
# was added to the same database afterwards with the loop below; the script now waits for the
# stored rows instead of sleeping.)
# -t 1: on a busy 2-core machine llama.cpp's two spinning threads ran ten times slower than one.
# Re-running gives a database of the same shape, not the same figures (they are measurements).
set -euo pipefail

DB=${1:?usage: make_fixture_0_1_0.sh OUT.sqlite (run from a venv with rigbench 0.1.0 installed)}
VERSION=$(python -c 'import rigbench; print(rigbench.__version__)')
if [ "$VERSION" != "0.1.0" ]; then
  echo "rigbench $VERSION is installed; this fixture must be written by 0.1.0 (commit 61b533d)" >&2
  exit 2
fi
if [ -e "$DB" ]; then
  echo "$DB exists; give a new path" >&2
  exit 2
fi
mkdir -p "$(dirname "$DB")"
cp "$(dirname "$0")/quality_mini_0_1_0.yaml" "$(dirname "$DB")/"
cd "$(dirname "$DB")"  # the suite is stored as given: a bare file name
DB=$(basename "$DB")
PORT=${PORT:-18731}
DEAD_PORT=${DEAD_PORT:-18739}
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }

fake_server() {  # fake_server SCRIPT_JSON: start it in the background, wait until it answers
  python -m rigbench.testing.fake_server --port "$PORT" --script "$1" &
  FAKE_PID=$!
  for _ in $(seq 50); do
    python - "$PORT" <<'EOF' && return 0
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v1/models", timeout=1)
except Exception:
    sys.exit(1)
EOF
    sleep 0.2
  done
  echo "the fake server did not start" >&2
  exit 1
}
stop_fake() { kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; }

log "1 run: embedded, speed + quality"
rigbench run -t 1 --depths 0,256 --repeats 2 --gen-tokens 16 --suite quality_mini_0_1_0.yaml --quality-repeats 2 \
  --db "$DB"

log "2 run --session agent: embedded"
rigbench run -t 1 --session agent --gen-tokens 16 --no-quality --db "$DB"

log "3 compare: embedded t=1 vs t=2"
rigbench compare embedded:t=1 embedded:t=2 --depths 0,256 --repeats 2 --gen-tokens 16 --db "$DB"

log "4 tune: ub=128,256, two trials"
rigbench tune --space t=1 ub=128,256 --budget 2 --repeats 2 --gen-tokens 8 --objective decode@256 --db "$DB"

log "5 lab: prompt lookup"
rigbench lab -t 1 --lookup --draft-max 8 --repeats 2 --gen-tokens 24 --db "$DB"

interrupted_run() {  # interrupted_run ID PHASE N: url run ID stopped with SIGINT once N PHASE requests are stored
  fake_server '{"tokens": 16, "rate_tok_s": 8, "props": true, "tokenize": true, "timings": true}'
  set -m  # job control: a background job of a script otherwise ignores SIGINT
  rigbench run --url "http://127.0.0.1:$PORT/v1" --depths 0,256 --repeats 3 --gen-tokens 16 --no-quality \
    --db "$DB" &
  RUN_PID=$!
  set +m
  for _ in $(seq 600); do
    n=$(python - "$DB" "$1" "$2" <<'EOF'
import sqlite3, sys
try:
    con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(con.execute("SELECT count(*) FROM requests WHERE run_id = ? AND phase = ?",
                      (int(sys.argv[2]), sys.argv[3])).fetchone()[0])
except sqlite3.Error:  # not written yet
    print(0)
EOF
)
    [ "$n" -ge "$3" ] && break
    sleep 0.5
  done
  kill -INT "$RUN_PID"
  wait "$RUN_PID" || true  # exits 130: interrupted, keeps what was measured
  stop_fake
}

log "6 run, interrupted with SIGINT after its warm-up: incomplete"
interrupted_run 6 warmup 1

log "7 run against a URL where nothing listens: failed"
rigbench run --url "http://127.0.0.1:$DEAD_PORT/v1" --depths 0 --repeats 1 --no-quality --db "$DB" || true

log "8 run, interrupted with SIGINT after three speed requests: incomplete"
interrupted_run 8 speed 3

python - "$DB" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("VACUUM")
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
for row in con.execute("SELECT id, kind, status, reason FROM runs ORDER BY id"):
    print(*row, sep="\t")
con.close()
EOF
log "done: $DB"
