#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the test run and prints its URL on stdout.
# Installs PostgreSQL from Debian's packages when absent. Usage: url=$(bash .ci/postgres.sh DIR)
# Stop it with: pg_ctl -D DIR/data stop (as the same user).
set -euo pipefail
dir=${1:?usage: postgres.sh DIR}
port=${SAV_TEST_PG_PORT:-55432}

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
bin=$(find_bin)
if [[ -z "$bin" ]]; then
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y postgresql >&2
  bin=$(find_bin)
fi

# The server refuses to run as root: run it as the 'postgres' account the package creates.
as_db_user=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_db_user=(runuser -u postgres --)
fi

mkdir -p "$dir"
[[ $(id -u) -eq 0 ]] && chown postgres "$dir"
if [[ ! -f "$dir/data/PG_VERSION" ]]; then
  "${as_db_user[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >&2
fi
if ! "${as_db_user[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  # Loopback only; the socket goes into DIR so no system directory is needed; fsync off: a test server.
  "${as_db_user[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
