# shellcheck shell=bash disable=SC2034  # site settings are used by the scripts sourcing this
# slurm/jobenv.sh — what every advsweep batch job does before and around
# `advsweep run`: read site.conf, load modules, set the threads, work out the
# time left, and launch the ranks with srun. Sourced by sweep.sbatch,
# array.sbatch and merge.sbatch (each finds it from ADVSWEEP_SLURM_DIR or the
# path it was submitted with); never run on its own, never submits anything.
#
#   jobenv_init               site.conf (ADVSWEEP_CONF, else site.conf beside
#                             this file), defaults, modules, site_setup,
#                             ADVSWEEP (the binary: site.conf's, else the one
#                             installed with these scripts, else advsweep on
#                             PATH, else build/advsweep of this checkout),
#                             OMP_NUM_THREADS
#   jobenv_seconds_left       seconds until this job's time limit; prints
#                             nothing (status 1) when it has none
#   jobenv_run_options [ARGS] the deadline options for `advsweep run` into the
#                             array RUN_OPTS: --time-limit, --grace, --rate
#                             (each left out when ARGS, the user's own run
#                             options, already give it)
#   jobenv_srun ARGS...       srun [--mpi=SRUN_MPI] the ranks running `advsweep ARGS`
#   jobenv_finished FILE      points of FILE that are done, failed or diverged
#                             (0 when FILE does not exist yet)
#   jobenv_log MESSAGE        one line "advsweep-slurm: MESSAGE" on stdout

JOBENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

jobenv_log() { echo "advsweep-slurm: $*"; }

jobenv_init() {
    local conf=${ADVSWEEP_CONF:-$JOBENV_DIR/site.conf}
    # defaults: the documented values of site.conf
    PARTITION="" ACCOUNT="" QOS="" MAX_TIME="" MAX_CPUS="" MODULES="" ADVSWEEP=""
    EXTRA_SBATCH=() SRUN_MPI=pmix
    CPUS_PER_TASK=1 RATE="" MEM_PER_RANK_MB="" MASTER_SLOT=shared
    SIGNAL_LEAD=300 TIME_SLACK=60 GRACE=120 MAX_RESUBMITS=10
    site_setup() { :; }
    if [ -r "$conf" ]; then
        # shellcheck disable=SC1090
        . "$conf" || { jobenv_log "error: cannot read $conf"; return 2; }
    else
        jobenv_log "note: no site config at $conf; using the defaults"
    fi
    # values from slurm/submit (the --signal this job was really given, its --rate) win
    SIGNAL_LEAD=${ADVSWEEP_SIGNAL_LEAD:-$SIGNAL_LEAD}
    RATE=${ADVSWEEP_RATE:-$RATE}

    if [ -n "$MODULES" ]; then
        if ! type module >/dev/null 2>&1; then
            local init
            for init in /etc/profile.d/lmod.sh /etc/profile.d/modules.sh /usr/share/lmod/lmod/init/bash \
                        /usr/share/modules/init/bash; do
                # shellcheck disable=SC1090
                [ -r "$init" ] && . "$init" && break
            done
        fi
        # shellcheck disable=SC2086  # a list of module names
        module load $MODULES || { jobenv_log "error: module load $MODULES failed"; return 1; }
    fi
    site_setup || { jobenv_log "error: site_setup in $conf failed"; return 1; }

    if [ -z "$ADVSWEEP" ] && [ -r "$JOBENV_DIR/install-layout.sh" ]; then
        # an installed copy (cmake --install): the binary installed with it
        local ADVSWEEP_BINDIR_FROM_SLURM=""
        # shellcheck disable=SC1091  # written by cmake --install
        . "$JOBENV_DIR/install-layout.sh"
        if [ -n "$ADVSWEEP_BINDIR_FROM_SLURM" ] && [ -d "$JOBENV_DIR/$ADVSWEEP_BINDIR_FROM_SLURM" ]; then
            ADVSWEEP=$(cd "$JOBENV_DIR/$ADVSWEEP_BINDIR_FROM_SLURM" && pwd -P)/advsweep
        fi
    fi
    if [ -z "$ADVSWEEP" ]; then
        ADVSWEEP=$(command -v advsweep 2>/dev/null) || ADVSWEEP=$JOBENV_DIR/../build/advsweep
    fi
    if ! [[ $SRUN_MPI =~ ^[A-Za-z0-9_.-]*$ ]]; then
        jobenv_log "error: SRUN_MPI='$SRUN_MPI' in $conf is not an MPI plugin name (srun --mpi=list shows them)"
        return 2
    fi
    if [ ! -x "$ADVSWEEP" ]; then
        jobenv_log "error: advsweep binary '$ADVSWEEP' not found (set ADVSWEEP in $conf)"
        return 2
    fi
    # One OpenMP thread team per rank; the OpenMP build of OpenBLAS follows
    # OMP_NUM_THREADS (it ignores OPENBLAS_NUM_THREADS).
    export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
    return 0
}

jobenv_seconds_left() {
    local end="" end_s now
    now=$(date +%s)
    # Slurm >= 23.02 exports SLURM_JOB_END_TIME; 22.05 does not, so ask squeue
    # (then scontrol) for this job's end time.
    if [ -n "${SLURM_JOB_END_TIME:-}" ] && [ "${SLURM_JOB_END_TIME}" -gt "$now" ] 2>/dev/null; then
        end_s=$SLURM_JOB_END_TIME
    else
        end=$(squeue -h -j "${SLURM_JOB_ID:?}" -o %e 2>/dev/null | head -n1)
        case $end in ''|N/A|NONE|Unknown|INVALID)
            end=$(scontrol -o show job "$SLURM_JOB_ID" 2>/dev/null | tr ' ' '\n' | sed -n 's/^EndTime=//p' | head -n1) ;;
        esac
        case $end in ''|N/A|NONE|Unknown|INVALID) return 1 ;; esac
        end_s=$(date -d "$end" +%s 2>/dev/null) || return 1
    fi
    # a job without a time limit ends in the far future (Slurm adds a year)
    [ $((end_s - now)) -lt $((300 * 86400)) ] || return 1
    echo $((end_s - now))
}

jobenv_run_options() {
    local left limit a user=" "
    # advsweep run refuses an option given twice: the user's own options win
    for a in "$@"; do user+="${a%%=*} "; done
    RUN_OPTS=()
    [[ $user == *" --grace "* ]] || RUN_OPTS+=(--grace "$GRACE")
    [ -n "$RATE" ] && [[ $user != *" --rate "* ]] && RUN_OPTS+=(--rate "$RATE")
    if [[ $user == *" --time-limit "* ]]; then
        jobenv_log "--time-limit given to advsweep run: not computing one from the job's time limit"
    elif left=$(jobenv_seconds_left); then
        limit=$((left - SIGNAL_LEAD - TIME_SLACK))
        if [ "$limit" -ge 10 ]; then
            RUN_OPTS+=(--time-limit "$limit")
            jobenv_log "time left ${left} s: --time-limit ${limit} s (minus SIGNAL_LEAD=${SIGNAL_LEAD}, TIME_SLACK=${TIME_SLACK}), SIGTERM due at ~$((left - SIGNAL_LEAD)) s (Slurm may send it up to 60 s earlier)"
        else
            jobenv_log "time left ${left} s is not enough for a --time-limit before the signal (SIGNAL_LEAD=${SIGNAL_LEAD}, TIME_SLACK=${TIME_SLACK}); relying on SIGTERM"
        fi
    else
        jobenv_log "no time limit"
    fi
}

jobenv_srun() {
    local ntasks=${SLURM_NTASKS:-1} cpus=${SLURM_CPUS_PER_TASK:-1} ranks over=()
    ranks=$ntasks
    if [ "$MASTER_SLOT" = shared ]; then
        # rank 0 only dispatches and sleeps between messages: one more rank
        # than task slots, sharing the workers' CPUs
        ranks=$((ntasks + 1))
        over=(--overcommit)
    fi
    # the MPI plugin (site.conf SRUN_MPI; empty: the cluster's MpiDefault)
    local mpi=()
    [ -n "$SRUN_MPI" ] && mpi=(--mpi="$SRUN_MPI")
    # Slurm 22.05's srun does not inherit --cpus-per-task from sbatch: pass it.
    jobenv_log "srun ${mpi[*]} --ntasks=$ranks --cpus-per-task=$cpus ${over[*]} $ADVSWEEP $*  (OMP_NUM_THREADS=$OMP_NUM_THREADS)"
    srun "${mpi[@]}" --ntasks="$ranks" --cpus-per-task="$cpus" "${over[@]}" "$ADVSWEEP" "$@"
}

jobenv_finished() {
    [ -e "$1" ] || { echo 0; return 0; }
    "$ADVSWEEP" status "$1" 2>/dev/null |
        awk '/ done, .* failed, .* diverged, / {
                 for (i = 1; i <= NF; i++) if ($(i+1) ~ /^(done|failed|diverged),?$/) n += $i
                 print n; found = 1; exit }
             END { if (!found) print 0 }'
}

