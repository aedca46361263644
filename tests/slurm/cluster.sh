#!/usr/bin/env bash
# Private single-node SLURM cluster (munged + slurmctld + slurmd) for tests.
#
#   cluster.sh start  DIR   start everything under DIR, write DIR/env.sh
#   cluster.sh stop   DIR   cancel jobs, kill the daemons by recorded PID, wait
#   cluster.sh status DIR   print daemon PIDs/liveness and node state
#   cluster.sh pids   DIR   print PIDs of live daemons and slurmstepds of DIR
#
# Everything (keys, sockets, state, spool, logs, pid files) lives in DIR and
# the daemons listen on randomly chosen free TCP ports, so nothing collides
# with a system Slurm/munge install or with a stale cluster from a killed run.
# Must run as root (slurmd has to be root to launch jobs).
#
# Environment knobs:
#   SLURM_TEST_START_TIMEOUT  seconds to wait for the node to become idle (20)
#   SLURM_TEST_MEM_MB         RealMemory for the node (min(1024, half the real))
set -u

PROG=${0##*/}
die() { echo "$PROG: $*" >&2; exit 1; }
usage() { echo "usage: $PROG {start|stop|status|pids} DIR" >&2; exit 2; }

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
[ -n "$DIR" ] || usage

SLURM_SBIN=${SLURM_SBIN:-/usr/sbin}
DAEMONS="slurmd slurmctld munged"     # stop order

# --------------------------------------------------------------------------
# PID bookkeeping: DIR/pids/NAME holds the PID we started. Before trusting a
# PID we check /proc/PID/exe still is the expected binary and that its
# command line mentions DIR, so a recycled PID is never killed.
# --------------------------------------------------------------------------
is_live() {  # PID: exists and is not a zombie (some container inits never reap)
    local k v
    [ -d "/proc/$1" ] || return 1
    while read -r k v; do
        [ "$k" = State: ] || continue
        [ "${v%% *}" != Z ]; return
    done 2>/dev/null <"/proc/$1/status"
    return 1
}

pid_of() {  # NAME -> prints PID if recorded and the process is ours & alive
    local name=$1 f pid exe
    f="$DIR/pids/$name"
    [ -r "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    [ -d "/proc/$pid" ] || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    exe=${exe% (deleted)}
    # Debian installs slurmctld/slurmd as alternatives (slurmctld-wlm ...)
    case ${exe##*/} in "$name"|"$name"-*) ;; *) return 1 ;; esac
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/" || return 1
    is_live "$pid" || return 1   # zombies count as dead
    echo "$pid"
}

# slurmstepd processes of this cluster. slurmstepd detaches from slurmd, so
# find them by an open fd under DIR (they inherit the slurmd log file) or by
# an open unix socket whose path is under DIR (/proc/net/unix).
stepd_pids() {
    local p inodes=""
    if [ -r /proc/net/unix ]; then
        inodes=$(awk -v d="$DIR/" 'index($8, d) == 1 {print "socket:[" $7 "]"}' /proc/net/unix | sort -u)
    fi
    local comm
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        read -r comm 2>/dev/null <"/proc/$p/comm" || continue   # builtin: no fork per process
        [ "$comm" = slurmstepd ] || continue
        if find /proc/$p/fd -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
               grep -qF -e "$DIR/${inodes:+
$inodes}"; then   # newline-separated fixed patterns
            echo "$p"
        fi
    done
}

descendants() {  # PID... -> those PIDs and all their descendants
    local all todo next p
    all="$*"; todo="$*"
    while [ -n "$todo" ]; do
        next=""
        for p in $todo; do
            next="$next $(awk -v pp="$p" '{ # /proc/N/stat: field 4 is ppid; comm may contain spaces
                     sub(/^.*\) /, ""); if ($2 == pp) print FILENAME }' /proc/[0-9]*/stat 2>/dev/null |
                     sed 's#/proc/\([0-9]*\)/stat#\1#')"
        done
        todo=$(echo $next)
        all="$all $todo"
    done
    echo $all
}

wait_gone() {  # TIMEOUT_DS PID... ; returns 0 when all are gone
    local n=$1 p alive; shift
    while :; do
        alive=""
        for p in "$@"; do
            is_live "$p" && alive="$alive $p"
        done
        [ -z "$alive" ] && return 0
        [ "$n" -le 0 ] && return 1
        sleep 0.1; n=$((n - 1))
    done
}

kill_pids() {  # PID... : TERM, wait up to 5 s, then KILL and wait
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null
    wait_gone 50 "$@" && return 0
    kill -KILL "$@" 2>/dev/null
    wait_gone 50 "$@"
}

do_stop() {
    local name pid pids="" stepds
    [ -d "$DIR" ] || return 0
    # Cancel jobs while the controller is still up so steps end cleanly.
    if [ -f "$DIR/etc/slurm.conf" ] && pid_of slurmctld >/dev/null; then
        if [ -n "$(SLURM_CONF=$DIR/etc/slurm.conf squeue -h -o %i 2>/dev/null)" ]; then
            SLURM_CONF=$DIR/etc/slurm.conf scancel --full -u "$(id -un)" >/dev/null 2>&1
            for _ in $(seq 50); do
                [ -z "$(SLURM_CONF=$DIR/etc/slurm.conf squeue -h -o %i 2>/dev/null)" ] && break
                sleep 0.1
            done
        fi
    fi
    stepds=$(stepd_pids)
    for name in $DAEMONS; do
        pid=$(pid_of "$name") && pids="$pids $pid"
    done
    [ -n "$stepds" ] && stepds=$(descendants $stepds)
    # slurmd first (it would otherwise report the node down), then ctld, munge.
    for name in $DAEMONS; do
        pid=$(pid_of "$name") || continue
        kill_pids "$pid" || echo "$PROG: $name (pid $pid) would not die" >&2
    done
    if [ -n "$stepds" ]; then
        kill_pids $stepds || echo "$PROG: slurmstepd/job processes $stepds would not die" >&2
    fi
    for name in $DAEMONS; do
        if pid=$(pid_of "$name"); then
            echo "$PROG: $name (pid $pid) still running" >&2
            return 1
        fi
    done
    return 0
}

free_port() {  # prints a TCP port nobody listens on
    local port used
    used=$(ss -Htan 2>/dev/null | awk '{n=split($4,a,":"); print a[n]}' | sort -u)
    for _ in $(seq 200); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
        echo "$used" | grep -qx "$port" && continue
        # nothing should answer on it either
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && continue
        echo "$port"; return 0
    done
    return 1
}

node_state() {
    SLURM_CONF=$DIR/etc/slurm.conf sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1
}

do_start() {
    local port_ctld port_d memmb cpuline n pid state t0 name
    [ "$(id -u)" -eq 0 ] || die "must run as root (slurmd needs root to launch jobs)"
    for name in munged mungekey slurmctld slurmd; do
        command -v "$name" >/dev/null 2>&1 || [ -x "$SLURM_SBIN/$name" ] ||
            die "$name not found: install slurmctld slurmd slurm-client munge"
    done
    for name in sbatch srun squeue sinfo scontrol scancel; do
        command -v "$name" >/dev/null 2>&1 || die "$name not found: install slurm-client"
    done
    PATH=$SLURM_SBIN:$PATH

    mkdir -p "$DIR" || die "cannot create $DIR"
    DIR=$(cd "$DIR" && pwd -P) || die "cannot enter $DIR"
    # Never clobber a directory that is not ours: DIR must be empty or carry
    # the marker of an earlier start.
    if [ ! -e "$DIR/.advsweep-slurm-cluster" ] && [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR is not empty and was not made by $PROG; use an empty or new directory"
    fi
    : >"$DIR/.advsweep-slurm-cluster"
    # A previous cluster in the same DIR (e.g. a killed test) is stopped first
    # and its state wiped; clusters in other dirs do not matter (own ports).
    do_stop || die "could not stop the previous cluster in $DIR"
    rm -rf "${DIR:?}/etc" "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/pids" \
           "$DIR/tmp" "$DIR/env.sh" "$DIR/startup_seconds"
    mkdir -p "$DIR/etc" "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/pids" "$DIR/tmp" ||
        die "cannot create dirs in $DIR"
    chmod 755 "$DIR/munge"

    t0=$(date +%s.%N)
    # ---- munge --------------------------------------------------------------
    mungekey -c -k "$DIR/munge/munge.key" >"$DIR/log/mungekey.log" 2>&1 ||
        die "mungekey failed: $(cat "$DIR/log/mungekey.log")"
    chmod 400 "$DIR/munge/munge.key"
    setsid munged --force --foreground \
        --key-file="$DIR/munge/munge.key" \
        --socket="$DIR/munge/munge.socket" \
        --pid-file="$DIR/munge/munged.pid" \
        --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" \
        </dev/null >>"$DIR/log/munged.out" 2>&1 &
    echo $! >"$DIR/pids/munged"
    for n in $(seq 100); do
        [ -S "$DIR/munge/munge.socket" ] && break
        pid_of munged >/dev/null || die "munged died: $(tail -n5 "$DIR/log/munged.out" "$DIR/log/munged.log" 2>/dev/null)"
        sleep 0.05
    done
    [ -S "$DIR/munge/munge.socket" ] || { do_stop; die "munged socket did not appear"; }

    # ---- slurm.conf ---------------------------------------------------------
    NODE=$(hostname -s)
    # CPU topology from slurmd -C; RealMemory deliberately low (a node that
    # reports less memory than configured gets drained).
    cpuline=$(slurmd -C 2>/dev/null | head -n1 | tr ' ' '\n' |
              grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | tr '\n' ' ')
    [ -n "$cpuline" ] || cpuline="CPUs=$(nproc)"
    memmb=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)
    memmb=${memmb:-2048}
    memmb=$(( memmb / 2 < 1024 ? memmb / 2 : 1024 ))
    memmb=${SLURM_TEST_MEM_MB:-$memmb}
    port_ctld=$(free_port) || die "no free port"
    port_d=$(free_port) || die "no free port"
    while [ "$port_d" = "$port_ctld" ]; do port_d=$(free_port); done

    cat >"$DIR/etc/slurm.conf" <<EOF
# generated by tests/slurm/cluster.sh -- private test cluster in $DIR
ClusterName=advsweeptest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$port_ctld
SlurmdPort=$port_d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
# private TmpFS: the PMIx plugin puts per-step dirs (spmix_appdir_UID_JOB.STEP)
# there, which could clash with a stale cluster's job of the same id in /tmp
TmpFS=$DIR/tmp
SlurmdSpoolDir=$DIR/spool/slurmd.%n
SlurmctldPidFile=$DIR/state/slurmctld.pid
SlurmdPidFile=$DIR/spool/slurmd.%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
PlugStackConfig=$DIR/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=pmix
ReturnToService=2
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
MessageTimeout=10
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE ${cpuline}RealMemory=$memmb State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    # Empty plugstack: do not pick up /etc/slurm/plugstack.conf.d from the host.
    : >"$DIR/etc/plugstack.conf"
    # Empty cgroup.conf so nothing reads the system one.
    : >"$DIR/etc/cgroup.conf"
    mkdir -p "$DIR/spool/slurmd.$NODE"
    # daemons inherit the cwd: do not pin the caller's directory
    cd "$DIR" || die "cannot cd to $DIR"

    # ---- daemons (foreground mode, backgrounded; PID = $!) ------------------
    setsid slurmctld -D -i -f "$DIR/etc/slurm.conf" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 &
    echo $! >"$DIR/pids/slurmctld"
    setsid slurmd -D -N "$NODE" -f "$DIR/etc/slurm.conf" </dev/null >>"$DIR/log/slurmd.out" 2>&1 &
    echo $! >"$DIR/pids/slurmd"

    cat >"$DIR/env.sh" <<EOF
# source me: private test SLURM cluster started by tests/slurm/cluster.sh
export SLURM_CONF='$DIR/etc/slurm.conf'
export SLURM_TEST_DIR='$DIR'
export SLURM_TEST_NODE='$NODE'
export SLURM_TEST_PARTITION=test
export SLURM_TEST_CPUS='$(echo "$cpuline" | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')'
# Debian's Open MPI only speaks PMIx to srun
export SLURM_MPI_TYPE=pmix
# the cluster runs jobs as root; let mpirun/orted accept that
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF

    # ---- wait for the node to be idle ---------------------------------------
    local timeout=${SLURM_TEST_START_TIMEOUT:-20} deadline
    deadline=$(( $(date +%s) + timeout ))
    state=""
    while :; do
        for name in munged slurmctld slurmd; do
            pid_of "$name" >/dev/null && continue
            echo "$PROG: $name died during start-up; log tail:" >&2
            tail -n 15 "$DIR/log/$name.out" "$DIR/log/$name.log" 2>/dev/null | sed 's/^/    /' >&2
            do_stop; exit 1
        done
        state=$(node_state)
        case $state in idle) break ;; esac
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "$PROG: node $NODE not idle after ${timeout}s (state: '${state:-unknown}')" >&2
            SLURM_CONF=$DIR/etc/slurm.conf scontrol show node "$NODE" 2>&1 | sed 's/^/    /' >&2
            for name in slurmctld slurmd; do
                echo "  --- $DIR/log/$name.log (tail)" >&2
                tail -n 10 "$DIR/log/$name.log" 2>/dev/null | sed 's/^/    /' >&2
            done
            do_stop; exit 1
        fi
        sleep 0.1
    done
    awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN{printf "%.2f\n", t1 - t0}' >"$DIR/startup_seconds"
    return 0
}

do_status() {
    local name pid rc=0
    [ -d "$DIR" ] || { echo "no cluster dir $DIR"; return 1; }
    DIR=$(cd "$DIR" && pwd -P)
    for name in munged slurmctld slurmd; do
        if pid=$(pid_of "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"; rc=1
        fi
    done
    if [ $rc -eq 0 ] && [ -f "$DIR/etc/slurm.conf" ]; then
        NODE=$(hostname -s)
        echo "node $NODE: $(node_state)"
        echo "SLURM_CONF=$DIR/etc/slurm.conf"
    fi
    return $rc
}

case $CMD in
start)  do_start ;;
stop)   [ -d "$DIR" ] || exit 0
        DIR=$(cd "$DIR" && pwd -P) || exit 0
        do_stop ;;
status) do_status ;;
pids)   # every live process of this cluster: daemons and slurmstepds
        [ -d "$DIR" ] || exit 0
        DIR=$(cd "$DIR" && pwd -P) || exit 0
        for name in $DAEMONS; do pid_of "$name"; done
        stepd_pids ;;
*)      usage ;;
esac
