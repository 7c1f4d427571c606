#!/bin/sh
# Install promtool and the Prometheus server (Debian's package) for the rule tests and the one-machine
# stack. Idempotent; for Debian 12. Debian's package starts a server on 0.0.0.0:9090 as a system
# service: we keep it from starting while installing and disable it, because the stack and the tests
# run their own Prometheus on loopback with deploy/prometheus/prometheus.yml.
set -eu

have_prometheus() {
    command -v promtool >/dev/null && command -v prometheus >/dev/null
}

disable_service() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    if [ -x /etc/init.d/prometheus ]; then
        /etc/init.d/prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
}

if have_prometheus; then
    echo "Prometheus already installed: $(promtool --version 2>&1 | head -n 1)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "run as root to install Prometheus (apt-get install prometheus)" >&2
    exit 1
fi

# A policy-rc.d answering 101 stops invoke-rc.d (and deb-systemd-invoke) starting the service.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends prometheus
disable_service

have_prometheus || { echo "promtool still not found after install" >&2; exit 1; }
echo "Prometheus installed: $(promtool --version 2>&1 | head -n 1)"
