#!/usr/bin/env bash
# Soak: mixed load with connection churn against a fresh TcpStore.Akka server for N minutes; reports the
# server's memory (RSS) and open file descriptors at the start and the end, and the error count.
# Not a test (no timing is asserted); run it by hand and read the report.
#
#   tests/soak/soak.sh [--minutes 10] [--storeload PATH]
#
# The load generator is storeload (a native epoll TCPStore load generator; --storeload or $STORELOAD, default
# ../shared/tools/storeload/build/storeload beside the checkout, built with its build.sh when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
minutes=10
storeload="${STORELOAD:-$repo/../shared/tools/storeload/build/storeload}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --storeload) storeload="$2"; shift 2 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$storeload" ]]; then
  build="$(dirname "$(dirname "$storeload")")/build.sh"
  [[ -x "$build" ]] && "$build" >/dev/null || { echo "soak.sh: storeload not found at $storeload" >&2; exit 2; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dotnet build "$repo/src/TcpStore.Akka.Server" -c Release -v q -nologo >/dev/null
work="$(mktemp -d)"
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
dotnet "$repo/src/TcpStore.Akka.Server/bin/Release/net10.0/tcpstore-server.dll" --host 127.0.0.1 --port 0 \
  >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 200); do grep -q '^READY ' "$work/server.out" && break; sleep 0.1; done
port="$(awk '/^READY /{print $2; exit}' "$work/server.out")"
[[ -n "$port" ]] || { echo "soak.sh: server did not start"; cat "$work/server.out"; exit 1; }

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$server_pid/status"; }
fds() { ls "/proc/$server_pid/fd" | wc -l; }
threads() { awk '/^Threads:/{print $2}' "/proc/$server_pid/status"; }

# Warm up (JIT, pools) before the baseline.
"$storeload" ops --port "$port" --conns 64 --seconds 5 --op mixed >/dev/null
sleep 2
start_rss=$(rss_kib); start_fds=$(fds); start_threads=$(threads)
echo "soak: server pid $server_pid port $port, $minutes min; start rss=${start_rss}KiB fds=$start_fds threads=$start_threads"

errors=0; rounds=0
deadline=$(( $(date +%s) + minutes * 60 ))
while (( $(date +%s) < deadline )); do
  rounds=$((rounds + 1))
  # Each storeload run opens and closes all its connections: churn. Mixed ops, a storm, and waiters.
  for cmd in "ops --conns 64 --seconds 5 --op mixed" "ops --conns 256 --seconds 3 --op mixed --pipeline 4" \
             "storm --conns 1000" "waiters --conns 1000 --multiset"; do
    "$storeload" $cmd --port "$port" >"$work/run.out" 2>&1 || true
    line="$(grep '^RESULT' "$work/run.out" | tail -1)"
    if [[ -z "$line" ]]; then
      errors=$((errors + 1)); echo "soak: no RESULT from: storeload $cmd"; tail -3 "$work/run.out"; continue
    fi
    e="$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")"; errors=$((errors + ${e:-1}))
    [[ "${e:-1}" != 0 ]] && { echo "soak: errors in: storeload $cmd"; tail -3 "$work/run.out"; }
  done
  kill -0 "$server_pid" 2>/dev/null || { echo "soak: SERVER DIED"; exit 1; }
  echo "soak: round $rounds rss=$(rss_kib)KiB fds=$(fds) threads=$(threads) errors=$errors"
done
sleep 5   # let closed connections drain
end_rss=$(rss_kib); end_fds=$(fds); end_threads=$(threads)
echo "SOAK minutes=$minutes rounds=$rounds errors=$errors start_rss_kib=$start_rss end_rss_kib=$end_rss start_fds=$start_fds end_fds=$end_fds start_threads=$start_threads end_threads=$end_threads"
