#!/usr/bin/env bash
# The longer Jepsen-style run of cluster mode (issue 13): random faults (SIGKILL, SIGSTOP/SIGCONT, one-way and two-way
# partitions of the singleton's node and of others, restarts) for N minutes against N nodes in network namespaces,
# then the checkers. The bounded run in the test suite is Jepsen_bounded_run_* (tests/TcpStore.Akka.Cluster.Tests).
#
#   sudo tests/jepsen/jepsen.sh [--minutes 10] [--nodes 5] [--seed N] [--faults KIND,KIND,...] [--dir DIR] [--keep]
#   tests/jepsen/jepsen.sh check DIR/history.jsonl       re-check a kept history
#
# Prints the history size, every fault injected and the verdict; exits 0 on PASS, 1 on FAIL. The history
# (history.jsonl, one operation per line), the nodes' configurations and logs are kept on failure (--keep: always).
# Needs root and /usr/sbin/ip (it creates a bridge and one network namespace per node, removed at the end).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [[ "${1:-}" == "check" ]]; then
  shift
  mode=(check "$@")
else
  [[ $(id -u) -eq 0 ]] || { echo "jepsen.sh: needs root (network namespaces)" >&2; exit 2; }
  minutes=10 nodes=5
  args=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --minutes) minutes="$2"; shift 2 ;;
      --nodes) nodes="$2"; shift 2 ;;
      --seed|--faults|--dir) args+=("$1" "$2"); shift 2 ;;
      --keep) args+=("$1"); shift ;;
      *) echo "jepsen.sh: unknown option $1" >&2; exit 2 ;;
    esac
  done
  mode=(run --minutes "$minutes" --nodes "$nodes" "${args[@]}")
fi

# Release builds of the server and the harness (the harness starts the server's Release build).
dotnet build "$repo/tests/TcpStore.Akka.Jepsen" -c Release -v q -nologo >/dev/null
exec dotnet "$repo/tests/TcpStore.Akka.Jepsen/bin/Release/net10.0/tcpstore-jepsen.dll" "${mode[@]}"
