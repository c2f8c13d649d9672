#!/usr/bin/env bash
# Stops the S3 engine scripts/ci/start-s3.sh started (radosgw, the OSD, the monitor) and deletes its
# folder, ${STOWAGE_S3_DIR:-${TMPDIR:-/tmp}/stowage-s3}. Safe to run when nothing is running.
#
# Run, from the repository root:  sudo scripts/ci/stop-s3.sh      (~6 s; KEEP_S3_DIR=1 keeps the logs)
#
# Daemons stop one at a time, gateway first, monitor last: a gateway or OSD whose monitor vanished
# first waits on it for up to two minutes before giving up. Each gets 5 s to stop, then SIGKILL
# (the stored objects are throw-away). Only processes started with this folder's ceph.conf are
# touched, so another Ceph on the machine is left alone.
set -uo pipefail

dir=${STOWAGE_S3_DIR:-${TMPDIR:-/tmp}/stowage-s3}
conf=$dir/ceph.conf

# pids of processes whose command line names our ceph.conf and that run the given program
ours() { # <comm>
  local proc
  for proc in /proc/[0-9]*; do
    [ "$(cat "$proc/comm" 2>/dev/null)" = "$1" ] || continue
    tr '\0' '\n' <"$proc/cmdline" 2>/dev/null | grep -qxF -- "$conf" && echo "${proc#/proc/}"
  done
}
stop_pid() { # <pid>
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  echo "stop-s3: pid $1 ignored SIGTERM for 5 s; killing it" >&2
  kill -KILL "$1" 2>/dev/null
  for _ in $(seq 20); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
}

stopped=0
for comm in radosgw ceph-osd ceph-mon; do
  for pid in $(ours "$comm"); do
    stop_pid "$pid"
    stopped=$((stopped + 1))
  done
done

left=$(for comm in radosgw ceph-osd ceph-mon; do ours "$comm"; done)
if [ -n "$left" ]; then
  echo "stop-s3: still running after SIGKILL: $left; $dir kept" >&2
  exit 1
fi
[ "${KEEP_S3_DIR:-0}" = 1 ] || rm -rf "$dir"
kept=""; [ "${KEEP_S3_DIR:-0}" = 1 ] && kept="; kept $dir"
echo "stop-s3: stopped $stopped daemon(s)$kept"
