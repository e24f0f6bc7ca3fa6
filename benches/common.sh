# Shared by the benchmark scripts in this directory (sourced, not run).
#
# Starts a fresh `warden serve` on loopback and reads its bootstrap
# credentials, on embedded SQLite in a temporary data directory or, with
# DATABASE=postgres, on a database of its own that it creates on the
# PostgreSQL server at POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and drops on exit. Also: the
# server's CPU time and context switches from /proc, and a wrk run that
# prints one RESULT line.
#
# Environment read here: DATABASE (`sqlite`, the default, or `postgres`),
# POSTGRES_URL, WARDEN_SERVE_ARGS (extra `serve` flags), SERVER_CPUS /
# WRK_CPUS (taskset CPU lists to pin each side, unset = not pinned).

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }

work=$(mktemp -d)
server=""
bench_database=""
cleanup_hooks=()
cleanup() {
  local hook
  for hook in "${cleanup_hooks[@]}"; do "$hook" || true; done
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  if [[ -n $bench_database ]]; then
    psql -q "$POSTGRES_URL" -c "DROP DATABASE IF EXISTS $bench_database WITH (FORCE)" >/dev/null 2>&1 ||
      echo "could not drop the benchmark database $bench_database" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
pin() { local cpus=$1; shift; if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi; }

# start_warden BINARY: starts the server, waits until it is ready and sets
# `api` (its base URL), `server` (its pid), `key` (the bootstrap
# organization's API key) and `worker` (the bootstrap worker token).
start_warden() {
  local binary=$1 port url_args=()
  [[ -x $binary ]] || { echo "no warden binary at $binary (cargo build --release -p warden)" >&2; exit 2; }
  case ${DATABASE:-sqlite} in
    sqlite) ;;
    postgres)
      command -v psql >/dev/null || { echo "DATABASE=postgres needs psql" >&2; exit 2; }
      POSTGRES_URL=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
      bench_database=warden_bench_$$_$RANDOM
      psql -q "$POSTGRES_URL" -c "CREATE DATABASE $bench_database" >/dev/null
      # The same server, credentials and parameters, the new database.
      local base=${POSTGRES_URL%%\?*} query=""
      [[ $POSTGRES_URL == *\?* ]] && query="?${POSTGRES_URL#*\?}"
      url_args=(--database-url "${base%/*}/$bench_database$query")
      ;;
    *) echo "DATABASE must be sqlite or postgres" >&2; exit 2 ;;
  esac
  port=$(free_port)
  api=http://127.0.0.1:$port
  local command=("$binary" serve --bind "127.0.0.1:$port" --data-dir "$work/data" --rate-limit 0
    "${url_args[@]}")
  # shellcheck disable=SC2206
  command+=(${WARDEN_SERVE_ARGS:-})
  [[ -n ${SERVER_CPUS:-} ]] && command=(taskset -c "$SERVER_CPUS" "${command[@]}")
  # taskset execs the server, so $! is the server's pid either way.
  "${command[@]}" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "$api/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "$api/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
  key=$(json 'd["api_key"]' <"$work/data/bootstrap.json")
  worker=$(json 'd["worker_token"]' <"$work/data/bootstrap.json")
}

# cpu_us PID: the process's CPU time (user + system, all threads) in
# microseconds. Divided by the calls made, the cost of one call whatever else
# the machine is doing.
cpu_us() {
  python3 - "$1" <<'PY'
import os, sys
fields = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print(int((int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")))
PY
}

# switches PID: context switches (voluntary and not) of the process's threads,
# summed over those alive now. Divided by the calls made, how often a call
# puts a thread of the server to sleep or wakes one.
switches() {
  python3 - "$1" <<'PY'
import glob, sys
total = 0
for status in glob.glob(f"/proc/{sys.argv[1]}/task/*/status"):
    try:
        for line in open(status):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    except OSError:
        pass  # the thread ended meanwhile
print(total)
PY
}

# wrk_script FILE BODY HEADER...: writes a wrk Lua script that
# POSTs BODY with the given `Name: value` headers and prints one RESULT line.
wrk_script() {
  local file=$1 body=$2 header
  shift 2
  {
    echo 'wrk.method = "POST"'
    for header in "$@"; do
      printf 'wrk.headers["%s"] = "%s"\n' "${header%%: *}" "${header#*: }"
    done
    printf "wrk.body = '%s'\n" "$body"
    cat <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT p50_ms=%.3f p99_ms=%.3f rps=%.0f non2xx=%d socket_errors=%d requests=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    summary.requests))
end
LUA
  } >"$file"
}

# measure PID CONNECTIONS DURATION SCRIPT URL: one wrk run; prints its RESULT
# fields, and the CPU time PID used and its threads' context switches, per
# request meanwhile.
measure() {
  local pid=$1 c=$2 duration=$3 script=$4 url=$5 threads before after switched result requests
  threads=$(( c < 2 ? 1 : 2 ))
  before=$(cpu_us "$pid")
  switched=$(switches "$pid")
  result=$(pin "${WRK_CPUS:-}" wrk -t"$threads" -c"$c" -d"$duration" --latency -s "$script" "$url" |
    grep '^RESULT' | sed 's/^RESULT //')
  after=$(cpu_us "$pid")
  switched=$(( $(switches "$pid") - switched ))
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
  printf '%s server_cpu_us_per_call=%s switches_per_call=%s\n' "$result" \
    "$(python3 -c "print(round(($after - $before) / max($requests, 1)))")" \
    "$(python3 -c "print(round($switched / max($requests, 1), 1))")"
}
