#!/bin/bash
# Install the Debian packages the kernel test needs, only those missing
# (needs root, as on the CI machine). Prints nothing when all are there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

missing=()
for p in "${KT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
kt_log "installing: ${missing[*]}"
[ "$(id -u)" = 0 ] || kt_die "need root to apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
