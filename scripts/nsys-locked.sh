#!/usr/bin/env bash
# Runs one nsys command the way this machine needs it: one nsys at a time (flock), under timeout, and
# afterwards kills by PID the `nsys --start-agent` this run started, if it is still there (a timed-out
# nsys leaves one spinning at ~95% CPU). Usage: nsys-locked.sh <timeout-seconds> <nsys arguments...>
# Everything in gil-nvtx that runs nsys, in code or by hand, goes through here.
#
# The agent daemonizes (its own session, re-parented to init), so neither the process group nor the
# parent chain leads back to this run. Its environment does: nsys passes its own environment on, so
# this run gives nsys a token no other run has, and only agents carrying it are killed. Agents of other
# users, other runs or other tools never carry it.
set -u
if [ $# -lt 2 ]; then
  echo "usage: nsys-locked.sh <timeout-seconds> <nsys arguments...>" >&2
  exit 2
fi
limit=$1; shift
nsys=${GIL_NVTX_NSYS:-nsys}
lock=${GIL_NVTX_NSYS_LOCK:-/tmp/gil-nvtx-nsys.lock}
token="$$-$(cat /proc/sys/kernel/random/uuid)"

# PIDs of `nsys --start-agent` processes whose environment holds this run's token.
own_agents() {
  local d args
  for d in /proc/[0-9]*; do
    args=$( { tr "\0" " " < "$d/cmdline"; } 2>/dev/null) || continue
    case "$args" in
      *nsys*--start-agent*) ;;
      *) continue ;;
    esac
    # Unreadable for other users' processes: those are not this run's.
    if { tr "\0" "\n" < "$d/environ"; } 2>/dev/null | grep -qxF "GIL_NVTX_NSYS_RUN=$token"; then
      echo "${d#/proc/}"
    fi
  done
}

exec 9>>"$lock"
flock 9
# The lock descriptor is closed for nsys, so an orphaned agent cannot keep the lock held.
GIL_NVTX_NSYS_RUN=$token timeout -k 10 "$limit" "$nsys" "$@" 9>&-
rc=$?
for pid in $(own_agents); do
  kill -9 "$pid" 2>/dev/null && echo "nsys-locked: killed leftover nsys agent $pid" >&2
done
exit $rc
