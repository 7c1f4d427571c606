#!/bin/sh
# Install PostgreSQL server binaries for the test harness (tests/harness/postgres.py).
# Idempotent; for Debian 12. The tests run their own throwaway cluster on a free
# loopback port, so Debian's "main" cluster is neither needed nor created here.
set -eu

have_initdb() {
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && return 0
    done
    return 1
}

if have_initdb; then
    echo "PostgreSQL server binaries already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "run as root to install PostgreSQL (apt-get install postgresql)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# Install postgresql-common first so we can stop the package creating a "main" cluster.
apt-get install -y --no-install-recommends postgresql-common
conf=/etc/postgresql-common/createcluster.conf
if ! grep -q '^create_main_cluster *= *false' "$conf"; then
    echo 'create_main_cluster = false' >>"$conf"
fi
apt-get install -y --no-install-recommends postgresql

have_initdb || { echo "initdb still not found after install" >&2; exit 1; }
getent passwd postgres >/dev/null || { echo "postgres user missing" >&2; exit 1; }
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
