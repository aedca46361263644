#!/usr/bin/env bash
# End-to-end test of slurm/ (submit, sweep.sbatch, array.sbatch, merge.sbatch)
# on a real, private SLURM cluster started here (tests/slurm/cluster.sh): no
# mock of sbatch. Needs root, slurmctld slurmd slurm-client munge, Open MPI
# with PMIx, and a python3 with h5py (ADVSWEEP_PY, default /usr/bin/python3).
#
#   test_slurm_sweep.sh [ADVSWEEP_BINARY]      (ctest passes the built binary)
#
# (0) bad input: slurm/submit refuses missing/malformed job files and plans
#     that cannot fit, and submits nothing; --dry-run submits nothing
# (1) a plain `mpirun -n 3 advsweep run` of the test sweep: the reference
# (2) the demo job (jobs/demo.yaml) through slurm/submit + sweep.sbatch
# (3) the test sweep with --time=1 (a 1-minute limit, shorter than it needs):
#     sweep.sbatch resubmits itself until it is complete; every point done
#     exactly once; results bit-identical to (1)
# (4) the test sweep as a job array of 2 shards + the afterok merge job;
#     results bit-identical to (1)
# (5) the cluster is stopped by PID and no daemon is left
# Exit 0 = all passed, 77 = skipped (not root / no SLURM). The cluster is torn
# down by lib.sh's EXIT trap whatever happens; SLURM_TEST_KEEP=1 keeps its dir
# (it is kept anyway when a check failed).
# shellcheck disable=SC2001,SC2015  # sed for indenting; `a && b || fail` is meant
set -u
HERE=$(cd "$(dirname "$0")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
SUBMIT=$ROOT/slurm/submit
ADVSWEEP=${1:-${ADVSWEEP_BIN:-}}
if [ -z "$ADVSWEEP" ]; then
    for b in build-slurm build-test build; do
        [ -x "$ROOT/$b/advsweep" ] && { ADVSWEEP=$ROOT/$b/advsweep; break; }
    done
fi
PY=${ADVSWEEP_PY:-/usr/bin/python3}

if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the SLURM test cluster needs root"; exit 77; fi
for c in slurmctld slurmd munged sbatch mpirun; do
    command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || { echo "SKIP: $c not installed"; exit 77; }
done
[ -n "$ADVSWEEP" ] && [ -x "$ADVSWEEP" ] || { echo "FAIL: advsweep binary not found (argument 1 or ADVSWEEP_BIN)"; exit 1; }
"$PY" -c 'import h5py, numpy' 2>/dev/null || { echo "FAIL: $PY lacks h5py/numpy (set ADVSWEEP_PY)"; exit 1; }

# shellcheck source=tests/slurm/lib.sh
. "$HERE/lib.sh"

FAILS=0
T_ALL=$(date +%s.%N)
pass() { echo "  PASS: $*"; }
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); SLURM_TEST_KEEP=1; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }
section() { echo; echo "== $*"; }
show() { echo "    --- $1:"; sed 's/^/    | /' "$1" 2>/dev/null | tail -n "${2:-40}"; }
njobs() { scontrol -o show jobs 2>/dev/null | grep -c '^JobId='; }
h5attr() {  # FILE NAME: a root attribute, exactly as stored (no newline added)
    "$PY" -c 'import sys, h5py; v = h5py.File(sys.argv[1], "r", locking=False).attrs[sys.argv[2]]
sys.stdout.write(v.decode() if isinstance(v, bytes) else str(v))' "$1" "$2"
}
complete() { "$ADVSWEEP" status "$1" 2>/dev/null | grep -q 'nothing left to run'; }

echo "advsweep: $ADVSWEEP"
echo "python:   $PY"

# The test sweep: 48 points of 0.1-5 s, ~30-60 s of work for 2 workers --
# longer than what one 1-minute job gets done (see the README: the signal
# comes at Slurm's first time-limit check, 0-30 s into such a job).
W0=$(mktemp -d "${TMPDIR:-/tmp}/advsweep-slurm-test.XXXXXX") || exit 1
slurm_test_cleanup() { rm -rf "$W0"; }
cat >"$W0/resub.yaml" <<'EOF'
name: resub
description: SLURM test sweep, longer than one 1-minute job (tests/slurm/test_slurm_sweep.sh)
seeds: 4
fixed: {model: deep, H: 2, d: 8, n: 32, delta: 0.1, epsilon: 0.1, c_alpha: 40, steps: 2000,
        pgd_steps: 5, eval_steps: 10, eval_restarts: 2, eval_count: 4, seed: 7}
grid:
  m: [64, 128, 192, 256]
  attack: [none, fgsm, pgd]
EOF
P=$("$ADVSWEEP" plan "$W0/resub.yaml" | sed -n 's/^points *\([0-9]*\).*/\1/p')

# ---------------------------------------------------------------------------
section "(1) reference: plain mpirun -n 3 advsweep run of the test sweep (no SLURM)"
T=$(date +%s.%N)
(cd "$W0" && env -u SLURM_CONF OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun --oversubscribe -n 3 "$ADVSWEEP" run resub.yaml -o ref.h5 -q >ref.out 2>&1)
rc=$?
echo "  $P points in $(since "$T") s, exit $rc"
check "reference run complete (exit 0, nothing left)" test $rc -eq 0 -a -n "$(complete "$W0/ref.h5" && echo y)"

# ---------------------------------------------------------------------------
section "start the cluster"
T=$(date +%s.%N)
# shellcheck disable=SC2119  # no DIR: a temporary one
if ! slurm_cluster_start; then
    echo "FAIL: cluster did not start"
    exit 1
fi
echo "  up in $(since "$T") s; SLURM_CONF=$SLURM_CONF"
W=$SLURM_TEST_DIR/work
mkdir -p "$W" && cd "$W" || exit 1
cp "$W0/resub.yaml" "$W0/ref.h5" "$W/"
DAEMON_PIDS=$(cat "$SLURM_TEST_DIR"/pids/* | tr '\n' ' ')
MAX_RESUBMITS=12
cat >"$W/site.conf" <<EOF
# site settings of the test cluster (tests/slurm/cluster.sh: partition test, 2 CPUs)
PARTITION=test
MAX_TIME=00:10:00
MAX_CPUS=4
ADVSWEEP=$ADVSWEEP
CPUS_PER_TASK=1
RATE=15
MASTER_SLOT=shared
SIGNAL_LEAD=30        # small: the test's jobs have a 1-minute limit
TIME_SLACK=0
GRACE=10              # short: long points may be abandoned (and redone by the next job)
MAX_RESUBMITS=$MAX_RESUBMITS
EOF
CONF=$W/site.conf

# ---------------------------------------------------------------------------
section "(0) bad input: slurm/submit stops with a clear message and submits nothing"
T=$(date +%s.%N)
before=$(njobs)
refuse() {  # WHAT REGEX SUBMIT-ARGS...: exit 2, message matching REGEX, no job
    local what=$1 re=$2 out rc; shift 2
    out=$("$SUBMIT" "$@" 2>&1); rc=$?
    if [ $rc -eq 2 ] && grep -qE "$re" <<<"$out" && [ "$(njobs)" -eq "$before" ]; then
        pass "$what -> exit 2: $(grep -E "$re" <<<"$out" | head -n1 | cut -c1-150)"
    else
        fail "$what: exit $rc, $(( $(njobs) - before )) job(s) submitted, output:"; echo "$out" | sed 's/^/    | /'
    fi
}
printf 'name: broken\ngrid: [m, 1\n' >"$W/broken.yaml"
printf 'name: typo\nfixed: {widht: 64}\n' >"$W/typo.yaml"
printf 'name: huge\nfixed: {m: 4096, H: 3, n: 256, d: 64, steps: 1000, attack: pgd}\n' >"$W/huge.yaml"
cp "$CONF" "$W/tiny-mem.conf"; echo 'MEM_PER_RANK_MB=0.5' >>"$W/tiny-mem.conf"
cp "$CONF" "$W/no-resubmit.conf"; echo 'MAX_RESUBMITS=0' >>"$W/no-resubmit.conf"
refuse "missing job file" "job file .*does not exist" --config "$CONF" "$W/nope.yaml"
refuse "malformed YAML" "advsweep plan refused .*broken.yaml" --config "$CONF" "$W/broken.yaml"
refuse "unknown parameter" "advsweep plan refused .*widht" --config "$CONF" "$W/typo.yaml"
refuse "a point over MEM_PER_RANK_MB" "needs .* MB, more than" --config "$W/tiny-mem.conf" "$W/resub.yaml"
refuse "--time over MAX_TIME" "longer than the partition's limit" --config "$CONF" "$W/resub.yaml" --time=00:20:00
refuse "more CPUs than MAX_CPUS" "more than MAX_CPUS" --config "$CONF" "$W/resub.yaml" --ntasks=3 --cpus-per-task=2
refuse "a point longer than one job" "alone takes .* longer than" --config "$CONF" "$W/huge.yaml" --time=1
refuse "more resubmissions than MAX_RESUBMITS" "raise MAX_RESUBMITS" --config "$W/no-resubmit.conf" \
    "$W/resub.yaml" --ntasks=1 --time=1
refuse "an array shard longer than one job" "array tasks do not resubmit" --config "$CONF" --array 2 \
    "$W/resub.yaml" --ntasks=1 --time=1
refuse "--array 1" "shards >= 2" --config "$CONF" --array 1 "$W/resub.yaml"
refuse "sbatch -o with a .h5 name" "sweep file" --config "$CONF" "$W/resub.yaml" -o out.h5
out=$("$SUBMIT" --dry-run --config "$CONF" "$ROOT/jobs/demo.yaml" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q ' sbatch .*sweep.sbatch' <<<"$out" && grep -q 'nothing submitted' <<<"$out" &&
   [ "$(njobs)" -eq "$before" ]; then
    pass "--dry-run prints the sbatch command and submits nothing"
else
    fail "--dry-run: exit $rc"; echo "$out" | sed 's/^/    | /'
fi
echo "  ($(since "$T") s)"

# ---------------------------------------------------------------------------
section "(2) the demo job through slurm/submit and sweep.sbatch"
T=$(date +%s.%N)
out=$("$SUBMIT" --config "$CONF" "$ROOT/jobs/demo.yaml" --ntasks=2 2>&1)
echo "$out" | sed 's/^/  | /'
DEMO=$(sed -n 's/.*submitted job \([0-9]*\):.*/\1/p' <<<"$out")
if [ -z "$DEMO" ]; then
    fail "demo: not submitted"
else
    wait_job "$DEMO" 400
    st=$(job_state "$DEMO"); ec=$(job_exit_code "$DEMO")
    echo "  job $DEMO: $st, exit $ec, $(since "$T") s after submission"
    check "demo job COMPLETED with exit 0" test "$st" = COMPLETED -a "$ec" = 0
    check "demo.h5: all 126 points done" complete "$W/demo.h5"
    check "demo log says 'sweep complete' and ran 3 ranks (srun --mpi=pmix --ntasks=3 --overcommit)" \
        grep -q -e 'sweep complete' "$W/demo-$DEMO.out"
    grep -q 'srun --mpi=pmix --ntasks=3 --cpus-per-task=1 --overcommit' "$W/demo-$DEMO.out" ||
        fail "demo log lacks the srun line"
    "$ADVSWEEP" run --print-default >"$W/default.yaml"
    h5attr "$W/demo.h5" job_text >"$W/demo-jobtext.yaml"
    check "demo.h5 job_text is the embedded default job (= jobs/demo.yaml)" \
        cmp -s "$W/demo-jobtext.yaml" "$W/default.yaml"
    check "demo.h5 written by 3 ranks with OMP_NUM_THREADS=1" \
        test "$(h5attr "$W/demo.h5" ranks) $(h5attr "$W/demo.h5" omp_threads)" = "3 1"
    [ "$FAILS" -eq 0 ] || show "$W/demo-$DEMO.out" 20
fi

# ---------------------------------------------------------------------------
section "(3) a sweep longer than its 1-minute time limit: self-resubmission [SLOW]"
T=$(date +%s.%N)
out=$("$SUBMIT" --config "$CONF" "$W/resub.yaml" --ntasks=2 --time=1 2>&1)
echo "$out" | sed 's/^/  | /'
first=$(sed -n 's/.*submitted job \([0-9]*\):.*/\1/p' <<<"$out")
[ -n "$first" ] || fail "the test sweep was not submitted"
chain=()
id=$first
while [ -n "$id" ]; do
    chain+=("$id")
    wait_job "$id" 200 || { fail "job $id did not finish"; break; }
    echo "  job $id: $(job_state "$id"), exit $(job_exit_code "$id"), at $(since "$T") s:" \
        "$(grep -E 'advsweep run exit|killed by SIGTERM' "$W/resub-$id.out" | sed 's/^advsweep-slurm: //' | tr '\n' ' ')"
    id=$(sed -n 's/.*resubmitted as job \([0-9]*\) .*/\1/p' "$W/resub-$id.out")
    [ "${#chain[@]}" -le $((MAX_RESUBMITS + 2)) ] || { fail "chain longer than MAX_RESUBMITS + 1"; break; }
done
resubmits=$(( ${#chain[@]} - 1 ))
last=""; [ ${#chain[@]} -gt 0 ] && last=${chain[${#chain[@]}-1]}
logs=()
for id in "${chain[@]}"; do logs+=("$W/resub-$id.out"); done
echo "  chain: ${chain[*]} ($resubmits resubmission(s)) in $(since "$T") s"
check "resubmitted itself: 0 < $resubmits resubmissions <= MAX_RESUBMITS=$MAX_RESUBMITS" \
    test "$resubmits" -gt 0 -a "$resubmits" -le "$MAX_RESUBMITS"
bad=""
for id in "${chain[@]}"; do
    [ "$(job_state "$id")" = COMPLETED ] && [ "$(job_exit_code "$id")" = 0 ] || bad="$bad $id"
done
check "every job of the chain COMPLETED with exit 0 (interrupted runs exit 0 after resubmitting)" test -z "$bad"
check "the last job's log says 'sweep complete'" grep -q 'sweep complete' "$W/resub-$last.out"
check "resub.h5: all $P points done" complete "$W/resub.h5"
# every point finished exactly once over all the runs' logs; abandoned ones came back
counts=$(cat "${logs[@]}" | awk -v P="$P" '
    /^\[[0-9]+\/[0-9]+\] point [0-9]+ .*: (done|failed|diverged)/ { n[$3]++ }
    /^\[[0-9]+\/[0-9]+\] point [0-9]+ .*: abandoned/ { ab++ }
    END { once = 0; for (i = 0; i < P; i++) if (n[i] == 1) once++
          printf "%d %d", once, ab + 0 }')
once=${counts% *}; abandoned=${counts#* }
interrupted=$(cat "${logs[@]}" | grep -c 'advsweep run exit 3')
killed=$(cat "${logs[@]}" | grep -c 'killed by SIGTERM')
echo "  logs: $once of $P points finished exactly once; $abandoned abandoned after GRACE and redone;" \
    "$interrupted run(s) stopped cleanly with exit 3, $killed killed by an early SIGTERM"
check "every point finished exactly once across the chain's logs" test "$once" -eq "$P"
check "results bit-identical to the plain mpirun reference" \
    "$PY" "$HERE/../h5same.py" --done-only "$W/resub.h5" "$W/ref.h5"
[ "$FAILS" -eq 0 ] || for l in "${logs[@]}"; do show "$l" 15; done

# ---------------------------------------------------------------------------
section "(4) job array of 2 shards + merge job (--dependency=afterok)"
T=$(date +%s.%N)
out=$("$SUBMIT" --config "$CONF" --array 2 -o "$W/array.h5" "$W/resub.yaml" --ntasks=1 2>&1)
echo "$out" | sed 's/^/  | /'
ARRAY=$(sed -n 's/.*submitted array job \([0-9]*\) .*/\1/p' <<<"$out")
MERGE=$(sed -n 's/.* and merge job \([0-9]*\) .*/\1/p' <<<"$out")
if [ -z "$ARRAY" ] || [ -z "$MERGE" ]; then
    fail "array: not submitted"
else
    echo "  merge job $MERGE right after submission: $(job_state "$MERGE") ($(job_field "$MERGE" Reason))"
    wait_job "$MERGE" 400
    echo "  merge job $MERGE: $(job_state "$MERGE"), exit $(job_exit_code "$MERGE"), $(since "$T") s after submission"
    for k in 0 1; do
        st=$(job_state "${ARRAY}_$k"); ec=$(job_exit_code "${ARRAY}_$k")
        check "array task ${ARRAY}_$k COMPLETED with exit 0" test "$st" = COMPLETED -a "$ec" = 0
    done
    check "merge job COMPLETED with exit 0 after the array" \
        test "$(job_state "$MERGE")" = COMPLETED -a "$(job_exit_code "$MERGE")" = 0
    check "shard files record shards 0/2 and 1/2" test \
        "$(h5attr "$W/array.shard-0-of-2.h5" shard_index)/$(h5attr "$W/array.shard-1-of-2.h5" shard_index)" = 0/1
    check "merged array.h5: all $P points done" complete "$W/array.h5"
    check "merged results bit-identical to the plain mpirun reference" \
        "$PY" "$HERE/../h5same.py" --done-only "$W/array.h5" "$W/ref.h5"
    [ "$FAILS" -eq 0 ] || { show "$W/array-merge-$MERGE.out"; show "$W/array-shard-${ARRAY}_0.out" 10; }
fi

# ---------------------------------------------------------------------------
section "(5) stop the cluster: no daemon left"
T=$(date +%s.%N)
CDIR=$SLURM_TEST_DIR
ALL_PIDS=$("$SLURM_TEST_CLUSTER" pids "$CDIR" | tr '\n' ' ')
slurm_cluster_stop --keep; rc=$?
left=""
for p in $DAEMON_PIDS $ALL_PIDS; do
    if [ -d "/proc/$p" ] && [ "$(awk '/^State:/{print $2}' "/proc/$p/status" 2>/dev/null)" != Z ]; then
        left="$left $p($(cat "/proc/$p/comm" 2>/dev/null))"
    fi
done
check "cluster stopped (rc $rc) in $(since "$T") s; no munged/slurmctld/slurmd/slurmstepd left" \
    test "$rc" -eq 0 -a -z "$left$("$SLURM_TEST_CLUSTER" pids "$CDIR")"
if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then echo "  cluster dir kept: $CDIR"; else rm -rf "$CDIR"; fi

echo
echo "total $(since "$T_ALL") s; $FAILS failure(s)"
[ "$FAILS" -eq 0 ] && echo "ALL PASSED" || echo "FAILED"
[ "$FAILS" -eq 0 ]
