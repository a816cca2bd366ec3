#!/usr/bin/env bash
# Runs one nsys command the way this machine needs it (notes/nsys.md §2-3): one nsys at a time
# (flock), under timeout, and afterwards kills by PID any `nsys --start-agent` that appeared meanwhile
# (a timed-out nsys leaves one spinning). Usage: nsys-locked.sh <timeout-seconds> <nsys arguments...>
# Everything in gil-nvtx that runs nsys, in code or by hand, goes through here.
set -u
if [ $# -lt 2 ]; then
  echo "usage: nsys-locked.sh <timeout-seconds> <nsys arguments...>" >&2
  exit 2
fi
limit=$1; shift
nsys=${GIL_NVTX_NSYS:-nsys}
lock=${GIL_NVTX_NSYS_LOCK:-/tmp/gil-nvtx-nsys.lock}

agents() {
  local d args
  for d in /proc/[0-9]*; do
    args=$( { tr "\0" " " < "$d/cmdline"; } 2>/dev/null) || continue
    case "$args" in
      *nsys*--start-agent*) echo "${d#/proc/}" ;;
    esac
  done
}

exec 9>>"$lock"
flock 9
before=" $(agents | tr '\n' ' ') "
# The lock descriptor is closed for nsys, so an orphaned agent cannot keep the lock held.
timeout -k 10 "$limit" "$nsys" "$@" 9>&-
rc=$?
for pid in $(agents); do
  case "$before" in
    *" $pid "*) ;;
    *) kill -9 "$pid" 2>/dev/null && echo "nsys-locked: killed leftover nsys agent $pid" >&2 ;;
  esac
done
exit $rc
