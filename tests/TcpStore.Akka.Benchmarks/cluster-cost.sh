#!/usr/bin/env bash
# The throughput cost of cluster mode (docs/CLUSTER.md): the same storeload `ops` runs against a standalone server
# and against a three-node cluster (hocon/cluster-local.conf: Akka.Remote ports 4051-4053 must be free), through
# the node that hosts the store singleton and through another node, back to back; prints a Markdown table with
# the ratios cluster / standalone and the machine.
#
#   tests/TcpStore.Akka.Benchmarks/cluster-cost.sh [--seconds S] [--storeload PATH] [--config FILE] [--only REGEX]
#
# --config names another cluster HOCON file (same Akka.Remote ports), e.g. to compare tcpstore.cluster.buckets.
# The last row is a rendezvous storm (storeload storm: N connections, ADD + WAIT each; --storm N, default 5000): its
# figures are seconds from the first connect to the last STOP_WAITING, and its ratio is cluster time / standalone time
# (docs/CLUSTER.md's target: at most 2x through any node).
#
# Like compare.sh, it needs storeload (../shared/tools/storeload, or --storeload / $STORELOAD); it is not a test.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
seconds=5
storeload="${STORELOAD:-}"
config="$repo/hocon/cluster-local.conf"
only="."
storm=5000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --storeload) storeload="$2"; shift 2 ;;
    --config) config="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --storm) storm="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$storeload" ]]; then
  for c in "$repo/../shared/tools/storeload" "$(dirname "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)")/../shared/tools/storeload"; do
    [[ -x "$c/build/storeload" ]] && { storeload="$c/build/storeload"; break; }
  done
fi
[[ -x "$storeload" ]] || { echo "storeload not found: pass --storeload PATH" >&2; exit 2; }

out="$(mktemp -d /tmp/cluster-cost.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

dotnet build -c Release "$repo/src/TcpStore.Akka.Server" -v q -nologo >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
server="$repo/src/TcpStore.Akka.Server/bin/Release/net10.0/tcpstore-server.dll"

# start VAR NAME ARGS...: starts a server (not in a subshell, so that cleanup knows its pid), waits (bounded) for
# READY, and sets VAR to its port.
start() {
  local var="$1" name="$2"; shift 2
  dotnet "$server" --host 127.0.0.1 "$@" >"$out/$name.out" 2>"$out/$name.err" &
  pids+=($!)
  for _ in $(seq 1 600); do
    if grep -q '^READY ' "$out/$name.out" 2>/dev/null; then
      printf -v "$var" '%s' "$(grep '^READY ' "$out/$name.out" | awk '{print $2}')"
      return
    fi
    sleep 0.1
  done
  echo "$name did not start" >&2; exit 1
}

start standalone standalone --port 0
start node1 node1 --config "$config" --cluster-port 4051 --port 0
start node2 node2 --config "$config" --cluster-port 4052 --port 0
start node3 node3 --config "$config" --cluster-port 4053 --port 0
# No node is Up before all three have joined; wait until each says the cluster store is ready (all Up, store found).
for _ in $(seq 1 600); do
  [[ "$(cat "$out"/node?.out | grep -c 'TcpStore cluster ready')" -ge 3 ]] && break
  sleep 0.1
done
# The oldest node hosts the singleton: measure through it and through another.
if grep -q 'singleton serving on' "$out/node1.out"; then local_port="$node1"; other_port="$node2"
elif grep -q 'singleton serving on' "$out/node2.out"; then local_port="$node2"; other_port="$node3"
elif grep -q 'singleton serving on' "$out/node3.out"; then local_port="$node3"; other_port="$node1"
else echo "no node logged that it serves the store singleton (see $out)" >&2; exit 1; fi

run() { # run PORT storeload-args... -> "ops_per_s p99_us", or "0 failed"
  local port="$1"; shift
  local line
  line="$(timeout 600 "$storeload" ops "$@" --seconds "$seconds" --host 127.0.0.1 --port "$port" 2>>"$out/storeload.err" \
    | grep '^RESULT' | grep ' errors=0$' || true)"
  [[ -n "$line" ]] || { echo "0 failed"; return; }
  sed -E 's/.*ops_per_s=([0-9.]+).*p99_us=([0-9.]+).*/\1 \2/' <<<"$line"
}
storm_run() { # storm_run PORT -> total seconds, or "failed"
  local line
  line="$(timeout 600 "$storeload" storm --conns "$storm" --host 127.0.0.1 --port "$1" 2>>"$out/storeload.err" \
    | grep '^RESULT' | grep ' errors=0$' || true)"
  [[ -n "$line" ]] || { echo "failed"; return; }
  sed -E 's/.*total_s=([0-9.]+).*/\1/' <<<"$line"
}
ratio() { [[ "$2" == 0 ]] && echo "n/a" || printf '%.2f×' "$(echo "$1 / $2" | bc -l)"; }

printf '| load | standalone ops/s (p99 µs) | cluster, singleton node | ratio | cluster, other node | ratio |\n'
printf '|---|---|---|---|---|---|\n'
for spec in "ping 1" "get 1" "set 1" "add 1" "ping 64" "get 64" "set 64" "add 64" "mixed 64"; do
  read -r op conns <<<"$spec"
  grep -qE "$only" <<<"$op c$conns" || continue
  read -r s_ops s_p99 <<<"$(run "$standalone" --op "$op" --conns "$conns")"
  read -r l_ops l_p99 <<<"$(run "$local_port" --op "$op" --conns "$conns")"
  read -r r_ops r_p99 <<<"$(run "$other_port" --op "$op" --conns "$conns")"
  printf '| %s c%s | %s (%s) | %s (%s) | %s | %s (%s) | %s |\n' "$op" "$conns" \
    "$s_ops" "$s_p99" "$l_ops" "$l_p99" "$(ratio "$l_ops" "$s_ops")" "$r_ops" "$r_p99" "$(ratio "$r_ops" "$s_ops")"
done
if grep -qE "$only" <<<"storm $storm"; then
  s_t="$(storm_run "$standalone")"; l_t="$(storm_run "$local_port")"; r_t="$(storm_run "$other_port")"
  sratio() { [[ "$1" == failed || "$2" == failed ]] && echo "n/a" || printf '%.2f× time' "$(echo "$1 / $2" | bc -l)"; }
  printf '| storm %s (s) | %s | %s | %s | %s | %s |\n' "$storm" "$s_t" "$l_t" "$(sratio "$l_t" "$s_t")" "$r_t" "$(sratio "$r_t" "$s_t")"
fi
echo
echo "Machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB;" \
     "load average before the last run: $(cut -d' ' -f1-3 /proc/loadavg); ${seconds} s per run; raw output in $out"
