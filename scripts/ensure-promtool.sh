#!/usr/bin/env bash
# ensure-promtool.sh — the metrics test checks /metrics with promtool, which
# comes with Debian's prometheus package; install it when missing.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
echo "ensure-promtool: installing Debian's prometheus (for promtool) for the e2e tests" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq >&2
# --no-install-recommends: promtool only, not the web UI assets.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2
