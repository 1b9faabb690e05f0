#!/usr/bin/env bash
# ensure-chromium.sh — the browser tests drive Debian's chromium; install it
# when missing (tools that download their own browser cannot work here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "ensure-chromium: installing Debian's chromium for the e2e tests" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
