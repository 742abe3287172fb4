#!/usr/bin/env bash
# The thread-scaling runs for a machine with many cores (the 16-core "device" machine that
# some tasks are lent), prepared as one command that fits one device call (< 10 minutes):
#
#   io       rwsem / range / ideal at 1, 2, 4, 8, 16 threads, 64 KiB and 256 KiB blocks
#            (the issue's targets: range >= 3x rwsem at 4 threads and >= 5x at 8 with 256 KiB)
#   threaded full / range / vma / ideal, maple, disjoint + shared, 1, 2, 4, 8, 16 fault threads
#   ft-*     io (64 KiB) and threaded mm again on a free-threaded CPython with the GIL off,
#            when one is carried along (see below): both tables in one go
#
# The machine has no network and no vmalab install: the repository runs from the working tree
# (PYTHONPATH), rich and sortedcontainers are already there, pyperf travels as a wheel:
#
#   here, once:   echo /.whl/ >> .git/info/exclude
#                 .venv/bin/pip download --no-deps --only-binary=:all: -d .whl pyperf==2.11.0 \
#                   rich markdown-it-py mdurl pygments sortedcontainers   # pure Python: serve the .ft interpreter too
#   device call:  run(command="bash results/run-device.sh", carry=[".whl"], timeout_s=590)
#
# Results land in $OUT (the device's return folder; results/device here when unset), one pyperf
# file per run; render them with `vmalab compare FILE --markdown`.  PROCS (default 3) sets the
# pyperf worker processes per benchmark; THREADS (default 1,2,4,8,16) the thread counts.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/device}
PROCS=${PROCS:-3}
THREADS=${THREADS:-1,2,4,8,16}
mkdir -p "$OUT"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/vmalab-site .whl/*.whl
  export PYTHONPATH=/tmp/vmalab-site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
V="$PY -m bench.cli"
{
  echo "# vmalab device run, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus: $(nproc); python: $($PY -c 'import sys; print(sys.version.split()[0])')"
  grep -m1 'model name' /proc/cpuinfo || true
} | tee "$OUT/machine.txt"

# a failed case must not cost the other runs of this one-shot call: note it and go on
$V bench --suite io --threads "$THREADS" -p "$PROCS" -n 3 -o "$OUT/io-64k.json" --no-table --overwrite \
  || echo "io-64k: some cases failed" | tee -a "$OUT/machine.txt"
$V bench --suite io --threads "$THREADS" --extra block=262144 -p "$PROCS" -n 3 -o "$OUT/io-256k.json" --no-table --overwrite \
  || echo "io-256k: some cases failed" | tee -a "$OUT/machine.txt"
$V bench --suite threaded --backend maple --threads "$THREADS" --filter 'threaded/mm/*' \
         -p "$PROCS" -n 3 -o "$OUT/threaded-mm.json" --no-table --overwrite \
  || echo "threaded-mm: some cases failed" | tee -a "$OUT/machine.txt"
# Without the GIL, when a free-threaded CPython came along: FT_PYTHON=/path, or the install
# tools/freethreaded.sh made, copied into the tree and carried (270 MiB whole; 25 MiB without its
# static library, tests, caches and site-packages, binaries stripped -- checked to run):
#   here, once:   mkdir .ft && (cd ~/.cache/vmalab/python3.13t && tar cf - --exclude='*.a' --exclude=test \
#                   --exclude=__pycache__ --exclude=idlelib --exclude=tkinter --exclude=site-packages \
#                   --exclude=ensurepip .) | tar xf - -C .ft && strip .ft/bin/python3.13t \
#                 && find .ft -name '*.so' -exec strip --strip-unneeded {} + && echo /.ft/ >> .git/info/exclude
#   device call:  run(command="bash results/run-device.sh", carry=[".whl", ".ft"], timeout_s=590)
FT=${FT_PYTHON:-$(ls .ft/bin/python3.1[3-9]t 2>/dev/null | tail -n 1)}
FTFILES=""
if [ -n "$FT" ] && [ -x "$FT" ]; then
  FTV="env PYTHON_GIL=0 $FT -m bench.cli"
  echo "free-threaded: $($FT -c 'import sys; print(sys.version.split()[0])')" | tee -a "$OUT/machine.txt"
  $FTV bench --suite io --threads "$THREADS" -p "$PROCS" -n 3 -o "$OUT/ft-io-64k.json" --no-table --overwrite \
    || echo "ft-io-64k: some cases failed" | tee -a "$OUT/machine.txt"
  $FTV bench --suite threaded --backend maple --threads "$THREADS" --filter 'threaded/mm/*' \
           -p "$PROCS" -n 3 -o "$OUT/ft-threaded-mm.json" --no-table --overwrite \
    || echo "ft-threaded-mm: some cases failed" | tee -a "$OUT/machine.txt"
  FTFILES="ft-io-64k ft-threaded-mm"
fi
for f in io-64k io-256k threaded-mm $FTFILES; do
  if [ -f "$OUT/$f.json" ]; then $V compare "$OUT/$f.json" --markdown; fi
done | tee "$OUT/tables.md"
