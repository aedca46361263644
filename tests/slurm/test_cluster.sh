#!/usr/bin/env bash
# Self-test of the private SLURM test cluster (tests/slurm/cluster.sh).
# Exit 0 = all checks passed. Needs root and the packages
# slurmctld slurmd slurm-client munge libopenmpi-dev openmpi-bin.
# SLURM_TEST_KEEP=1 keeps the cluster dir (it is always kept on failure).
set -u
HERE=$(cd "$(dirname "$0")" && pwd -P)
. "$HERE/lib.sh"

FAILS=0
T_ALL=$(date +%s.%N)
pass() { echo "  PASS: $*"; }
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }
section() { echo; echo "== $*"; }
show() { echo "    --- $1:"; sed 's/^/    | /' "$1" 2>/dev/null; }

on_fail_keep() {  # keep the cluster dir for post-mortem once anything failed
    [ "$FAILS" -eq 0 ] || SLURM_TEST_KEEP=1
}

section "start cluster"
T=$(date +%s.%N)
if ! slurm_cluster_start; then
    echo "FAIL: cluster did not start"
    SLURM_TEST_KEEP=1
    exit 1
fi
echo "  cluster up in $(since "$T") s (daemons->idle: $(cat "$SLURM_TEST_DIR/startup_seconds") s); SLURM_CONF=$SLURM_CONF"
W=$SLURM_TEST_DIR/work
mkdir -p "$W" && cd "$W" || exit 1
# daemon PIDs as recorded by the harness, for check (f)
DAEMON_PIDS=$(cat "$SLURM_TEST_DIR"/pids/* | tr '\n' ' ')
echo "  daemon pids: $DAEMON_PIDS"
sinfo

# ---------------------------------------------------------------------------
# (c) is slow (the signal arrives when the periodic time-limit check runs), so
# it is submitted first on 1 CPU and checked at the end; (a), (d), (e) use the
# other CPU meanwhile; (b) needs both CPUs and so runs after (c) has ended.
# ---------------------------------------------------------------------------
section "(c) submit: --time=1 --signal=TERM@50 job whose srun'd step traps SIGTERM [SLOW, up to ~90 s]"
# the step: records its start, traps SIGTERM -> marker with the arrival time
cat >"$W/sig_step.sh" <<'EOF'
#!/bin/bash
trap 'echo "got-SIGTERM-at-$(date +%s)" > "$1"; exit 0' TERM
echo "step start $(date +%s)"
for i in $(seq 150); do sleep 1 & wait $!; done   # wait returns at once on a signal
echo "step: no signal"
exit 3
EOF
chmod +x "$W/sig_step.sh"
cat >"$W/sig.sh" <<EOF
#!/bin/bash
#SBATCH --time=1
#SBATCH --signal=TERM@50
#SBATCH -n 1
#SBATCH -o $W/sig.out
echo "batch start \$(date +%s)"
srun -n 1 $W/sig_step.sh $W/sig.marker
echo "batch: srun exit \$?"
EOF
T_SIG=$(date +%s)
SIG_JOB=$(sbatch --parsable "$W/sig.sh")
echo "  submitted job $SIG_JOB"

section "(a) sbatch --wait of a one-line job"
T=$(date +%s.%N)
A_JOB=$(sbatch --parsable --wait -n 1 -o "$W/a.out" --wrap 'echo "advsweep-ok job=$SLURM_JOB_ID"')
rc=$?
echo "  job $A_JOB: sbatch --wait exit $rc in $(since "$T") s"
if [ $rc -eq 0 ] && [ "$(cat "$W/a.out" 2>/dev/null)" = "advsweep-ok job=$A_JOB" ]; then
    pass "output file holds 'advsweep-ok job=$A_JOB'"
else
    fail "sbatch --wait rc=$rc"; show "$W/a.out"
fi

section "(d) sbatch --dependency=afterok chain runs in order"
T=$(date +%s.%N)
D1=$(sbatch --parsable -n 1 -o /dev/null --wrap "sleep 2; echo \"D1 \$(date +%s.%N)\" >> $W/order")
D2=$(sbatch --parsable -n 1 -o /dev/null --dependency=afterok:$D1 --wrap "echo \"D2 \$(date +%s.%N)\" >> $W/order")
D3=$(sbatch --parsable -n 1 -o /dev/null --dependency=afterok:$D2 --wrap "echo \"D3 \$(date +%s.%N)\" >> $W/order")
echo "  chain $D1 -> $D2 -> $D3; D2 state right after submit: $(job_state "$D2") ($(job_field "$D2" Reason))"
wait_job "$D3" 60
echo "  states: $(job_state "$D1") $(job_state "$D2") $(job_state "$D3") after $(since "$T") s"
if [ "$(awk '{printf "%s ", $1}' "$W/order" 2>/dev/null)" = "D1 D2 D3 " ] &&
   awk 'NR > 1 && $2 < prev {exit 1} {prev = $2}' "$W/order"; then
    pass "order file: $(awk '{printf "%s ", $1}' "$W/order")"
else
    fail "wrong order"; show "$W/order"
fi
# afterok on a failed job must never run
DF=$(sbatch --parsable -n 1 -o /dev/null --wrap 'exit 3')
DN=$(sbatch --parsable -n 1 -o /dev/null --dependency=afterok:$DF --wrap "touch $W/must_not_run")
wait_job "$DF" 30
sleep 1
st=$(job_state "$DN"); reason=$(job_field "$DN" Reason)
echo "  afterok on failed job $DF: job $DN is $st ($reason)"
if [ ! -e "$W/must_not_run" ] && [ "$st" = PENDING ] && [ "$reason" = DependencyNeverSatisfied ]; then
    pass "dependent of a failed job stays PENDING/DependencyNeverSatisfied (tests must scancel it)"
else
    fail "dependent of failed job: state $st reason $reason"
fi
scancel "$DN"

section "(e) job_state / job_exit_code / submit_wait (lib.sh)"
st=$(job_state "$A_JOB")
[ "$st" = COMPLETED ] && pass "job_state $A_JOB = COMPLETED" || fail "job_state $A_JOB = $st"
T=$(date +%s.%N)
E_JOB=$(submit_wait -n 1 -o /dev/null --wrap 'exit 7')
rc=$?
st=$(job_state "$E_JOB"); ec=$(job_exit_code "$E_JOB")
echo "  job $E_JOB (exit 7): submit_wait rc=$rc state=$st exit_code=$ec in $(since "$T") s"
[ "$rc" -eq 7 ] && [ "$st" = FAILED ] && [ "$ec" -eq 7 ] &&
    pass "FAILED with exit code 7 parsed" || fail "expected FAILED/7"
E2_JOB=$(submit_wait -n 1 -o /dev/null --wrap 'true'); rc=$?
[ "$rc" -eq 0 ] && [ "$(job_state "$E2_JOB")" = COMPLETED ] &&
    pass "submit_wait of 'true' -> rc 0, COMPLETED" || fail "submit_wait true: rc=$rc state=$(job_state "$E2_JOB")"
st=$(job_state "$DN")
[ "$st" = CANCELLED ] && pass "job_state of scancel'd job $DN = CANCELLED" || fail "scancel'd job state $st"
st=$(job_state 999999); rc=$?
[ "$st" = UNKNOWN ] && [ $rc -ne 0 ] && pass "job_state of unknown job -> UNKNOWN, rc $rc" || fail "unknown job: $st rc=$rc"

section "(c) check: SIGTERM marker [SLOW]"
T=$(date +%s.%N)
wait_job "$SIG_JOB" 150
st=$(job_state "$SIG_JOB")
echo "  job $SIG_JOB: $st, exit $(job_exit_code "$SIG_JOB"), $(( $(date +%s) - T_SIG )) s after submission (waited $(since "$T") s here)"
if [ -s "$W/sig.marker" ] && grep -q '^got-SIGTERM-at-' "$W/sig.marker"; then
    start=$(sed -n 's/^step start //p' "$W/sig.out")
    got=$(sed 's/got-SIGTERM-at-//' "$W/sig.marker")
    pass "marker written by the srun'd step, signal $((got - start)) s after step start"
    grep -q '^batch: srun exit 0$' "$W/sig.out" &&
        pass "batch shell was not signalled (continued after srun, srun exit 0)" ||
        { fail "batch shell did not finish normally"; show "$W/sig.out"; }
    [ "$st" = COMPLETED ] && pass "job COMPLETED after the trap exited 0" || fail "signal job state $st"
else
    fail "no SIGTERM marker"; show "$W/sig.out"
fi

section "(b) MPI: srun --mpi=pmix -n 2 inside a batch job"
T=$(date +%s.%N)
if ! mpicc -O1 -o "$W/mpi_hello" "$HERE/mpi_hello.c"; then
    fail "mpicc failed"
else
    echo "  compiled in $(since "$T") s"
    cat >"$W/mpi.sh" <<EOF
#!/bin/bash
#SBATCH -n 2
#SBATCH -o $W/mpi.out
srun --mpi=pmix -n 2 $W/mpi_hello
EOF
    T=$(date +%s.%N)
    M_JOB=$(sbatch --parsable --wait "$W/mpi.sh"); rc=$?
    echo "  job $M_JOB: rc=$rc in $(since "$T") s"
    ranks=$(sed -n 's/^hello rank \([0-9]*\) of 2 on .* sum 1$/\1/p' "$W/mpi.out" | sort -u | tr '\n' ' ')
    if [ $rc -eq 0 ] && [ "$ranks" = "0 1 " ]; then
        pass "2 distinct ranks (0 1), Allreduce ok"
    else
        fail "MPI via srun: rc=$rc ranks='$ranks'"; show "$W/mpi.out"
    fi

    # also: mpirun inside the allocation (needs OMPI_ALLOW_RUN_AS_ROOT*, set by env.sh)
    T=$(date +%s.%N)
    R_JOB=$(sbatch --parsable --wait -n 2 -o "$W/mpirun.out" --wrap "mpirun -np 2 $W/mpi_hello"); rc=$?
    echo "  job $R_JOB (mpirun): rc=$rc in $(since "$T") s"
    ranks=$(sed -n 's/^hello rank \([0-9]*\) of 2 on .* sum 1$/\1/p' "$W/mpirun.out" | sort -u | tr '\n' ' ')
    if [ $rc -eq 0 ] && [ "$ranks" = "0 1 " ]; then
        pass "mpirun -np 2 inside the allocation: ranks 0 1"
    else
        fail "mpirun: rc=$rc ranks='$ranks'"; show "$W/mpirun.out"
    fi
fi

section "(f) stop leaves no daemons behind"
on_fail_keep
T=$(date +%s.%N)
CDIR=$SLURM_TEST_DIR
ALL_PIDS=$("$SLURM_TEST_CLUSTER" pids "$CDIR" | tr '\n' ' ')
echo "  live harness pids before stop: $ALL_PIDS"
slurm_cluster_stop --keep; rc=$?    # keep the dir until checked
echo "  stop: rc=$rc in $(since "$T") s"
left=""
for p in $DAEMON_PIDS $ALL_PIDS; do
    # a zombie is dead (some container inits never reap orphans)
    if [ -d /proc/$p ] && [ "$(awk '/^State:/{print $2}' /proc/$p/status 2>/dev/null)" != Z ]; then
        left="$left $p($(cat /proc/$p/comm 2>/dev/null))"
    fi
done
still=$("$SLURM_TEST_CLUSTER" pids "$CDIR" | tr '\n' ' ')
if [ $rc -eq 0 ] && [ -z "$left" ] && [ -z "$still" ]; then
    pass "no munged/slurmctld/slurmd/slurmstepd of the harness left"
else
    fail "left behind:$left $still"
fi
"$SLURM_TEST_CLUSTER" stop "$CDIR" && pass "second stop is a no-op (rc 0)" || fail "second stop rc $?"
on_fail_keep
if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then echo "  cluster dir kept: $CDIR"; else rm -rf "$CDIR"; fi

echo
echo "total $(since "$T_ALL") s; $FAILS failure(s)"
[ "$FAILS" -eq 0 ] && echo "ALL PASSED" || echo "FAILED"
[ "$FAILS" -eq 0 ]
