#!/usr/bin/env bash
# Derives extra apt source entries from the system's own Debian sources, so no mirror host is ever
# written into this repository. Usage: apt-sources.sh <components> <types> <suite>...
# Prints a deb822 stanza per suite on stdout, reusing the first Debian URI and keyring found.
set -euo pipefail
components=$1; types=$2; shift 2
src=/etc/apt/sources.list.d/debian.sources
uri=""; keyring=""
if [ -f "$src" ]; then
  uri=$(awk '$1=="URIs:" && $2 !~ /security/ {print $2; exit}' "$src")
  keyring=$(awk '$1=="Signed-By:" {print $2; exit}' "$src")
elif [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  echo "apt-sources: no Debian mirror URI found in $src or /etc/apt/sources.list" >&2
  exit 1
fi
for suite in "$@"; do
  printf 'Types: %s\nURIs: %s\nSuites: %s\nComponents: %s\n' "$types" "$uri" "$suite" "$components"
  [ -n "$keyring" ] && printf 'Signed-By: %s\n' "$keyring"
  printf '\n'
done
