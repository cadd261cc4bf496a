#!/usr/bin/env bash
# A one-node SLURM cluster inside this machine, for CI and for trying scripts/slurm/sweep.sh without a cluster.
#
#   scripts/slurm/local-cluster.sh start   # munged + slurmctld + slurmd, state in $ADJOINTDEIS_SLURM_DIR
#   eval "$(scripts/slurm/local-cluster.sh env)"   # SLURM_CONF for sbatch/squeue/scontrol in this shell
#   scripts/slurm/local-cluster.sh status
#   scripts/slurm/local-cluster.sh stop    # idempotent: stops what start started, removes the state folder
#
# Needs Debian's slurm-wlm and munge packages (apt-get install -y slurm-wlm munge). No systemd: the daemons are
# started directly, each with its own pid file in the state folder, and stopped by those pids only. The munge key is
# created in the state folder (never /etc/munge), the node line carries this machine's hostname and CPU count
# (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none: no cgroups needed). Works as root (CI) or as a user.
# The ports default to 6817/6818; set ADJOINTDEIS_SLURM_PORT to move them (slurmd uses PORT+1).
set -euo pipefail

state=${ADJOINTDEIS_SLURM_DIR:-${TMPDIR:-/tmp}/adjointdeis-slurm}
port=${ADJOINTDEIS_SLURM_PORT:-6817}
conf=$state/slurm.conf

die() { echo "error: local-cluster: $*" >&2; exit 1; }

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {  # stop_pid PIDFILE NAME: TERM, wait up to 10 s, then KILL; only the recorded pid
  local file=$1 name=$2 pid
  [[ -f $file ]] || return 0
  pid=$(cat "$file")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "local-cluster: $name ($pid) ignored TERM, killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

start() {
  for tool in munged slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y slurm-wlm munge"
  done
  if pid_alive "$state/slurmctld.pid" && pid_alive "$state/slurmd.pid" && pid_alive "$state/munged.pid"; then
    echo "local-cluster: already running (state in $state)"; return 0
  fi
  stop >/dev/null 2>&1 || true
  mkdir -p "$state"/{munge,ctld,spool,logs}
  chmod 700 "$state" "$state/munge"
  local host cpus user mem
  host=$(hostname -s)
  cpus=$(nproc --all 2>/dev/null || getconf _NPROCESSORS_ONLN)
  user=$(id -un)
  # RealMemory as slurmd itself measures it (MB), minus a little so the node is never "low memory"
  mem=$(slurmd -C 2>/dev/null | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p')
  mem=$(( ${mem:-1024} * 9 / 10 ))

  # munge: a fresh random key, its own socket, pid and log files; --force because the state folder is under /tmp
  dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$state/munge/munge.key"
  munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
    --pid-file="$state/munged.pid" --log-file="$state/logs/munged.log" --seed-file="$state/munge/munge.seed" \
    || die "munged did not start (see $state/logs/munged.log)"

  cat > "$conf" <<EOF
# Written by scripts/slurm/local-cluster.sh: a one-node cluster on $host ($cpus CPUs).
ClusterName=adjointdeis-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/logs/slurmctld.log
SlurmdLogFile=$state/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  export SLURM_CONF=$conf
  # -i: ignore state from an earlier run of the same folder; both daemons daemonize and write their pid files
  slurmctld -i -f "$conf" || die "slurmctld did not start (see $state/logs/slurmctld.log)"
  slurmd -f "$conf" || die "slurmd did not start (see $state/logs/slurmd.log)"
  for _ in $(seq 1 60); do
    # (the daemons write their pid files a moment after forking: only a pid file whose process is gone means death)
    if { [[ -f $state/slurmctld.pid ]] && ! pid_alive "$state/slurmctld.pid"; } || { [[ -f $state/slurmd.pid ]] && ! pid_alive "$state/slurmd.pid"; }; then
      sleep 0.5  # a daemon that exits right after forking (port in use, bad config) has logged why by now
      echo "--- slurmctld.log" >&2; tail -n 5 "$state/logs/slurmctld.log" >&2 || true
      echo "--- slurmd.log" >&2; tail -n 5 "$state/logs/slurmd.log" >&2 || true
      die "a daemon exited (port $port or $((port + 1)) in use? set ADJOINTDEIS_SLURM_PORT)"
    fi
    if sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "local-cluster: up: node $host, $cpus CPUs, state in $state"
      echo "local-cluster: export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.5
  done
  echo "--- slurmctld.log" >&2; tail -n 20 "$state/logs/slurmctld.log" >&2 || true
  echo "--- slurmd.log" >&2; tail -n 20 "$state/logs/slurmd.log" >&2 || true
  die "the node did not become idle in 30 s"
}

stop() {
  [[ -d $state ]] || { echo "local-cluster: not running"; return 0; }
  stop_pid "$state/slurmd.pid" slurmd
  stop_pid "$state/slurmctld.pid" slurmctld
  stop_pid "$state/munged.pid" munged
  rm -rf "$state"
  echo "local-cluster: stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$conf" ;;
  status)
    if pid_alive "$state/slurmctld.pid" && pid_alive "$state/slurmd.pid"; then
      SLURM_CONF=$conf sinfo; else echo "local-cluster: not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
