#!/usr/bin/env bash
# Dispatch benchmark: run tests/bench/dispatch.yaml REPEATS times on RANKS ranks
# (1 master + RANKS-1 single-thread workers) and print each run's makespan
# against the ideal and the master's CPU share. Usage: dispatch.sh [RANKS] [REPEATS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/.ci/env.sh"
ranks=${1:-3}
repeats=${2:-3}
bin=${ADVSWEEP_BIN:-$root/build/advsweep}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$repeats"); do
  OMP_NUM_THREADS=1 mpirun -n "$ranks" "$bin" run "$here/dispatch.yaml" -o "$tmp/d.h5" --fresh | grep makespan
done
