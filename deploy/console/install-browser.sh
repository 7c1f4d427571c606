#!/bin/sh
# Install Debian's Chromium and a CJK font for the console's browser tests (tests/browser). Idempotent.
# Playwright drives /usr/bin/chromium (no browser download); without the font, Chinese renders as boxes.
set -eu

if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    echo "chromium and fonts-noto-cjk already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root to install chromium and fonts-noto-cjk (apt-get install chromium fonts-noto-cjk)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-noto-cjk
