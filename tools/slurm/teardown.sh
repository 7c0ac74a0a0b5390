#!/usr/bin/env bash
# Stop the daemons tools/slurm/setup.sh started (slurmd, slurmctld, munged), by
# the PIDs in their pidfiles; jobs still queued or running are cancelled first.
# Packages and configuration stay, so the next setup.sh starts in seconds.
# Safe to run twice, or when nothing runs.
set -uo pipefail
RUN=/run/slurm

stop() { # pidfile
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[slurm-teardown] pid $pid ($file) ignored TERM for 15 s, killing it"
      kill -KILL "$pid"
    fi
  fi
  rm -f "$file"
}

if [ -s "$RUN/slurmctld.pid" ] && command -v scancel >/dev/null; then
  scancel --full --user="$(id -un)" 2>/dev/null || true
fi
stop "$RUN/slurmd.pid"
stop "$RUN/slurmctld.pid"
stop /run/munge/munged.pid
echo "[slurm-teardown] slurm daemons stopped"
