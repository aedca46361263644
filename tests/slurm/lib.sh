# shellcheck shell=bash
# Helpers for end-to-end tests against the private SLURM test cluster.
# Source it:   . "$(dirname "$0")/../slurm/lib.sh"   (path relative to your test)
#
#   slurm_cluster_start [DIR]   start a cluster (DIR defaults to a new mktemp
#                               dir), export SLURM_CONF etc., and install an
#                               EXIT trap that stops it (and removes a temp DIR
#                               unless SLURM_TEST_KEEP=1). Sets SLURM_TEST_DIR.
#                               Own EXIT cleanup: define slurm_test_cleanup()
#                               (run after the stop); do not replace the trap.
#   slurm_cluster_stop [--keep] stop it now (idempotent; the trap calls it too);
#                               --keep: leave the temp dir for the caller
#   job_state JOBID             print JobState (COMPLETED, FAILED, RUNNING, ...)
#   job_exit_code JOBID         print the job's exit code (128+sig if signalled)
#   job_field JOBID FIELD       print one field of `scontrol show job`
#   wait_job JOBID [TIMEOUT]    wait until the job is finished; 0 on finish,
#                               124 on timeout (default SLURM_TEST_JOB_TIMEOUT=600 s)
#   submit_wait [SBATCH ARGS]   sbatch the job, wait for it, print the job id on
#                               stdout; the return status is the job's exit code
#                               (1 if it ended non-COMPLETED with code 0, 124 if
#                               it timed out in the wait -- it is cancelled then)
#   job_is_done STATE           true for terminal states
#
# Needs root and the packages slurmctld slurmd slurm-client munge.

SLURM_TEST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SLURM_TEST_CLUSTER="$SLURM_TEST_LIB_DIR/cluster.sh"
: "${SLURM_TEST_JOB_TIMEOUT:=600}"

_slurm_test_tmpdir=""
_slurm_test_running=""

slurm_cluster_start() {
    local dir=${1:-}
    if [ -z "$dir" ]; then
        dir=$(mktemp -d "${TMPDIR:-/tmp}/advsweep-slurm.XXXXXX") || return 1
        _slurm_test_tmpdir=$dir
    fi
    _slurm_test_running=$dir
    # Installed before starting so a half-started cluster is cleaned up too.
    # INT/TERM turn into a normal exit, which runs the EXIT trap.
    trap '_slurm_test_on_exit' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "$SLURM_TEST_CLUSTER" start "$dir" || return 1
    # shellcheck disable=SC1091
    . "$dir/env.sh"
}

_slurm_test_on_exit() {
    # A test that needs its own EXIT cleanup defines slurm_test_cleanup()
    # instead of calling `trap ... EXIT` (which would replace this one).
    # It runs after the cluster is stopped.
    slurm_cluster_stop
    if declare -F slurm_test_cleanup >/dev/null; then slurm_test_cleanup; fi
}

# shellcheck disable=SC2120  # optional --keep
slurm_cluster_stop() {  # [--keep]: do not remove the temp dir
    local rc=0 keep=${SLURM_TEST_KEEP:-0}
    [ "${1:-}" = --keep ] && keep=quiet
    [ -n "$_slurm_test_running" ] || return 0
    "$SLURM_TEST_CLUSTER" stop "$_slurm_test_running" || rc=1
    if [ -n "$_slurm_test_tmpdir" ]; then
        if [ "$keep" = 0 ] && [ $rc -eq 0 ]; then
            rm -rf "$_slurm_test_tmpdir"
        elif [ "$keep" != quiet ]; then
            echo "slurm test cluster dir kept: $_slurm_test_tmpdir" >&2
        fi
    fi
    _slurm_test_running=""
    _slurm_test_tmpdir=""
    return $rc
}

job_field() {  # JOBID FIELD
    scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

job_state() {  # JOBID -> COMPLETED/FAILED/RUNNING/PENDING/... or UNKNOWN (rc 1)
    local s
    s=$(job_field "$1" JobState)
    if [ -z "$s" ]; then echo UNKNOWN; return 1; fi
    echo "$s"
}

job_is_done() {
    case $1 in
    COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|SPECIAL_EXIT|REVOKED)
        return 0 ;;
    esac
    return 1
}

job_exit_code() {  # JOBID -> exit status of the batch script (128+signal)
    local ec code sig
    ec=$(job_field "$1" ExitCode)
    [ -n "$ec" ] || { echo 255; return 1; }
    code=${ec%%:*}; sig=${ec##*:}
    if [ "${sig:-0}" -ne 0 ]; then echo $((128 + sig)); else echo "$code"; fi
}

wait_job() {  # JOBID [TIMEOUT_S]
    local id=$1 timeout=${2:-$SLURM_TEST_JOB_TIMEOUT} deadline s
    deadline=$(( $(date +%s) + timeout ))
    while :; do
        s=$(job_state "$id")
        job_is_done "$s" && return 0
        [ "$(date +%s)" -ge "$deadline" ] && return 124
        sleep 0.25
    done
}

submit_wait() {  # [SBATCH ARGS...]; stdout: job id; status: job exit code
    local id rc s
    id=$(sbatch --parsable "$@") || return 255
    id=${id%%;*}
    echo "$id"
    if ! wait_job "$id"; then
        echo "submit_wait: job $id not finished after ${SLURM_TEST_JOB_TIMEOUT}s, cancelling" >&2
        scancel "$id" 2>/dev/null
        return 124
    fi
    s=$(job_state "$id")
    rc=$(job_exit_code "$id")
    if [ "$s" != COMPLETED ] && [ "$rc" -eq 0 ]; then rc=1; fi
    return "$rc"
}
