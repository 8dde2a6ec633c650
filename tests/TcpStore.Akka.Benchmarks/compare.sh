#!/usr/bin/env bash
# compare.sh: our server against PyTorch 2.10's libuv TCPStore server, side by side, same generator, same run.
#
#   tests/TcpStore.Akka.Benchmarks/compare.sh [--quick] [--seconds S] [--only REGEX] [--storeload PATH]
#                                             [--out DIR] [--no-build] [--table DIR] [--ours-args ARGS]
#
# For every scenario it starts a FRESH server of each kind (ours: src/TcpStore.Akka.Server, Release; PyTorch's:
# native/torch_serve.cpp, built here with g++ against libtorch from the NuGet cache), runs the same storeload
# command against both back to back (which one goes first alternates per scenario), and prints a Markdown table of
# ratios (ours / libuv) with the issue's targets. One kind of scenario compares two ways of doing the same thing:
# barrier-N is N ranks meeting at our server through BARRIER (query 18, native/barrier_storm.c) against the same
# barrier done as ADD + WAIT (storeload storm) at PyTorch 2.10's server, which has no BARRIER. Raw storeload output and server logs go to --out
# (default: a new folder under bin/compare/).
#
#   --quick        2 s per ops run, fewer scenarios (no 1024-conn ops, storm/waiters up to 5000, 5000 idle conns)
#
# stall-OP: a bystander client PINGs while another repeats one heavy request (LIST_KEYS of 131,072 keys, GET or SET
# of an 8 MiB value); its worst round trip is how long that request held the server's other clients up.
#   --seconds S    measured seconds per ops run (default 5; storeload adds 1 s of warm-up)
#   --only REGEX   run only the scenarios whose name matches (e.g. 'ops-(get|set)', 'storm', 'idle')
#   --storeload P  the load generator (also $STORELOAD). Default: ../shared/tools/storeload/build/storeload next to
#                  the main checkout, built with its build.sh when missing. It is NOT part of this repository.
#   --out DIR      where raw output goes
#   --no-build     use the binaries built by a previous run
#   --table DIR    only print the table of an earlier run's output folder again
#   --ours-args A  extra arguments for our server (also $OURS_ARGS), e.g. '--transport sockets'
#
# Only 127.0.0.1 is used. RLIMIT_NOFILE is raised to the hard limit (storm/waiters/idle need one descriptor per
# connection on each side). Every wait is bounded (timeouts on storeload, server start and stop).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
quick=0
secs=""
only=""
out=""
build=1
storeload="${STORELOAD:-}"
table_only=""
ours_args="${OURS_ARGS:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --seconds) secs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --storeload) storeload="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --table) table_only="$2"; shift 2 ;;
    --ours-args) ours_args="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -z "$secs" ]] && { [[ $quick -eq 1 ]] && secs=2 || secs=5; }

log() { echo "compare.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------------- the table
# make_table DIR: Markdown table from DIR/results.tsv and DIR/scenarios, to stdout
make_table() {
awk -F'\t' -v scenarios="$1/scenarios" '
function fld(line, name,    m) { if (match(line, " " name "=[^ ]*")) return substr(line, RSTART + length(name) + 2, RLENGTH - length(name) - 2); return "" }
function fmt(v) { if (v == "") return "—"; if (v + 0 >= 1000) return sprintf("%.0f", v); if (v + 0 >= 10) return sprintf("%.1f", v); return sprintf("%.3g", v) }
# row SCENARIO METRIC LIBUV OURS HIGHER_IS_BETTER NOTE
function row(s, metric, a, b, higher, note, cpucol,    ratio, met, target) {
  if (a == "" || b == "") { ratio = "—"; met = "n/a" }
  else if (a + 0 == 0) { ratio = "—"; met = (higher ? (b + 0 > 0) : (b + 0 == 0)) ? "yes" : "no" }
  else { ratio = sprintf("%.2f×", b / a); met = (higher ? (b / a >= 1.0) : (b / a <= 1.0)) ? "yes" : "**no**" }
  target = higher ? "≥ 1.0×" : "≤ 1.0×"
  if (higher < 0) { target = "(no target)"; met = "—" }
  if (note != "") { met = met " (" note ")" }
  printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", s, metric, fmt(a), fmt(b), ratio, target, met, cpucol
}
{ key = $1 SUBSEP $2; if ($3 == "result") res[key] = $4; else if ($3 == "failed") fail[key] = $4; else if ($3 == "server_cpu_s") cpu[key] = $4 }
END {
  print "| scenario | metric | libuv | ours | ours/libuv | target | met? | server CPU s, libuv / ours |"
  print "|---|---|---:|---:|---:|---|---|---|"
  while ((getline s < scenarios) > 0) {
    a = res[s SUBSEP "libuv"]; b = res[s SUBSEP "ours"]
    if ((s SUBSEP "libuv") in fail || (s SUBSEP "ours") in fail) {
      printf "| %s | — | %s | %s | — | — | **no** | |\n", s, ((s SUBSEP "libuv") in fail) ? "FAILED: " fail[s SUBSEP "libuv"] : "ok", ((s SUBSEP "ours") in fail) ? "FAILED: " fail[s SUBSEP "ours"] : "ok"
      continue
    }
    ea = fld(a, "errors"); eb = fld(b, "errors")
    errnote = (eb + 0 > 0) ? ("ours: " eb " errors") : ""
    cpucol = cpu[s SUBSEP "libuv"] " / " cpu[s SUBSEP "ours"]
    if (ea + 0 > 0) errnote = errnote (errnote == "" ? "" : "; ") "libuv: " ea " errors"
    if (s ~ /^ops-/) {
      row(s, "ops/s", fld(a, "ops_per_s"), fld(b, "ops_per_s"), 1, errnote, cpucol)
      row(s, "p99 µs", fld(a, "p99_us"), fld(b, "p99_us"), (s ~ /pipeline/) ? -1 : 0, "", "")
    } else if (s ~ /^storm-/) {
      row(s, "total s", fld(a, "total_s"), fld(b, "total_s"), 0, errnote, cpucol)
    } else if (s ~ /^barrier-/) {
      row(s, "total s (ours BARRIER, libuv ADD+WAIT)", fld(a, "total_s"), fld(b, "total_s"), 0, errnote, cpucol)
    } else if (s ~ /^waiters-/) {
      row(s, "SET wake p99 µs", fld(a, "set_p99_us"), fld(b, "set_p99_us"), 0, errnote, cpucol)
      row(s, "MULTI_SET wake p99 µs", fld(a, "multiset_p99_us"), fld(b, "multiset_p99_us"), 0, "", "")
    } else if (s ~ /^stall-/) {
      row(s, "bystander max µs", fld(a, "bystander_max_us"), fld(b, "bystander_max_us"), 0, errnote, cpucol)
      row(s, "bystander p99 µs", fld(a, "bystander_p99_us"), fld(b, "bystander_p99_us"), 0, "", "")
      row(s, "heavy request p50 ms", fld(a, "heavy_ms_p50"), fld(b, "heavy_ms_p50"), -1, "", "")
    } else if (s ~ /^idle-/) {
      pa = fld(a, "kib_per_conn"); pb = fld(b, "kib_per_conn")
      note = (fld(b, "open") != fld(b, "conns")) ? ("ours held " fld(b, "open") "/" fld(b, "conns")) : ""
      printf "| %s | RSS KiB per idle validated conn | %s | %s | %s | ours ≤ 16 KiB | %s | |\n", s, fmt(pa), fmt(pb), (pa + 0 > 0) ? sprintf("%.2f×", pb / pa) : "—", ((pb + 0 <= 16) ? "yes" : "**no**") (note == "" ? "" : " (" note ")")
    }
  }
}' "$1/results.tsv"
}


if [[ -n "$table_only" ]]; then
  [[ -f "$table_only/results.tsv" ]] || die "no results.tsv in $table_only"
  make_table "$table_only"
  exit 0
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile="$(ulimit -n)"

# ---------------------------------------------------------------------------------------------- the generator
find_storeload_dir() {
  # ../shared next to this checkout, or next to the main checkout when this is a git worktree.
  local c common
  for c in "$repo/../shared/tools/storeload"; do [[ -d "$c" ]] && { echo "$c"; return; }; done
  common="$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)" || return 1
  c="$(dirname "$common")/../shared/tools/storeload"
  [[ -d "$c" ]] && { (cd "$c" && pwd); return; }
  return 1
}
if [[ -z "$storeload" ]]; then
  sldir="$(find_storeload_dir)" || die "storeload not found: pass --storeload PATH or set STORELOAD (see docs/PERFORMANCE.md)"
  if [[ -x "$sldir/build/storeload" ]]; then storeload="$sldir/build/storeload"
  else
    log "building storeload with $sldir/build.sh"
    storeload="$("$sldir/build.sh" | tail -1)" || die "storeload build failed"
  fi
fi
[[ -x "$storeload" ]] || die "storeload is not executable: $storeload"

# ---------------------------------------------------------------------------------------------- the servers
bin="$here/bin/compare"
mkdir -p "$bin"
torch_serve="$bin/torch_serve"
server_dll="$repo/src/TcpStore.Akka.Server/bin/Release/net10.0/tcpstore-server.dll"
bench_dll="$here/bin/Release/net10.0/TcpStore.Akka.Benchmarks.dll"
barrier_storm="$bin/barrier_storm"
libtorch="${TCPSTORE_LIBTORCH_DIR:-${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native}"

if [[ $build -eq 1 ]]; then
  if [[ ! -f "$libtorch/libtorch_cpu.so" ]]; then
    log "restoring libtorch (NuGet libtorch-cpu-linux-x64 2.10.0, ~130 MB once) via the interop test project"
    dotnet restore "$repo/tests/TcpStore.Akka.Interop.Tests" >&2 || die "dotnet restore failed"
  fi
  log "building our server and the benchmark project (Release)"
  dotnet build "$repo/src/TcpStore.Akka.Server" -c Release -nologo -v q >&2 || die "server build failed"
  dotnet build "$here" -c Release -nologo -v q >&2 || die "benchmark project build failed"
  log "building native/torch_serve (PyTorch's server launcher) with ${CXX:-g++}"
  "${CXX:-g++}" -std=c++17 -O2 -pthread -Wall -Wextra \
    "$here/native/torch_serve.cpp" "$repo/tests/TcpStore.Akka.Interop.Tests/native/tcpstore_shim.cpp" \
    -L"$libtorch" -Wl,--no-as-needed -ltorch_cpu -lc10 -Wl,--as-needed -Wl,-rpath,"$libtorch" \
    -o "$torch_serve.tmp" && mv "$torch_serve.tmp" "$torch_serve" || die "torch_serve build failed"
  log "building native/barrier_storm (the BARRIER generator) with ${CC:-gcc}"
  "${CC:-gcc}" -O2 -Wall -Wextra "$here/native/barrier_storm.c" -o "$barrier_storm" || die "barrier_storm build failed"
fi
[[ -f "$libtorch/libtorch_cpu.so" ]] || die "libtorch not found in $libtorch"
for f in "$torch_serve" "$server_dll" "$bench_dll" "$barrier_storm"; do [[ -e "$f" ]] || die "missing $f (run without --no-build)"; done

[[ -z "$out" ]] && out="$bin/run-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
results="$out/results.tsv"   # scenario kind metric value
: >"$results"

server_cmd() {
  case "$1" in
    libuv) echo "$torch_serve --host 127.0.0.1 --port 0 --backend libuv" ;;
    ours) echo "dotnet $server_dll --host 127.0.0.1 --port 0 $ours_args" ;;
  esac
}

spid=""
port=""
helper_pid=""
cleanup() {
  [[ -n "$helper_pid" ]] && kill "$helper_pid" 2>/dev/null
  [[ -n "$spid" ]] && kill "$spid" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server KIND LOGPREFIX: starts a fresh server, sets spid and port.
start_server() {
  local kind="$1" prefix="$2"
  : >"$prefix.server.out"
  # shellcheck disable=SC2046
  $(server_cmd "$kind") >"$prefix.server.out" 2>"$prefix.server.err" &
  spid=$!
  port=""
  for _ in $(seq 600); do   # up to 30 s
    port="$(awk '/^READY /{print $2; exit}' "$prefix.server.out" 2>/dev/null)"
    [[ -n "$port" ]] && return 0
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
  done
  log "$kind server did not print READY; stderr tail:"; tail -5 "$prefix.server.err" >&2
  kill "$spid" 2>/dev/null; spid=""
  return 1
}

# server CPU seconds (user + system) so far
server_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$spid/stat" 2>/dev/null
}

# the server process exists and is not a zombie
server_alive() {
  local state
  state="$(sed 's/^.*) //' "/proc/$spid/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$spid/status" 2>/dev/null; }

stop_server() {
  [[ -z "$spid" ]] && return
  kill "$spid" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done   # up to 10 s
  kill -9 "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  spid=""
  sleep 0.5
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"; }

# field NAME LINE: value of NAME=... in a RESULT line
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }

# run_one SCENARIO KIND storeload-args... (the generator is storeload unless $generator names another)
run_one() {
  local name="$1" kind="$2"; shift 2
  local prefix="$out/$name.$kind"
  start_server "$kind" "$prefix" || { record "$name" "$kind" failed "server did not start"; return; }
  local cpu0; cpu0="$(server_cpu)"
  timeout 900 "${generator:-$storeload}" "$@" --host 127.0.0.1 --port "$port" >"$prefix.storeload" 2>&1
  local rc=$? cpu1; cpu1="$(server_cpu)"
  local line; line="$(grep '^RESULT' "$prefix.storeload" | tail -1)"
  # A server that is going away may still be exiting when storeload gives up on it: look again shortly after.
  server_alive && { grep -q ' errors=0$' <<<"$line" || sleep 0.5; }
  if ! server_alive; then
    wait "$spid" 2>/dev/null
    local code=$? why="server exited during the run"
    grep -q "Application is shutting down" "$prefix.server.out" "$prefix.server.err" 2>/dev/null \
      && why="server shut down gracefully during the run (a stop signal from outside compare.sh?)"
    record "$name" "$kind" failed "$why, exit code $code"
    spid=""
    cpu1=""
  fi
  stop_server
  if [[ -z "$line" ]]; then
    record "$name" "$kind" failed "no RESULT (storeload exit $rc)"
    return
  fi
  record "$name" "$kind" result "$line"
  [[ -n "$cpu0" && -n "$cpu1" ]] && record "$name" "$kind" server_cpu_s "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b-a}')"
  echo "[$name/$kind] $line" >&2
}

# idle_one SCENARIO KIND CONNS: RSS delta of the server holding CONNS validated idle connections
idle_one() {
  local name="$1" kind="$2" conns="$3"
  local prefix="$out/$name.$kind"
  start_server "$kind" "$prefix" || { record "$name" "$kind" failed "server did not start"; return; }
  # Warm-up: 200 connections opened, validated and closed, so code paths are loaded before the baseline.
  timeout 60 dotnet "$bench_dll" idle --port "$port" --conns 200 --hold-seconds 0 >"$prefix.warmup" 2>&1
  sleep 2
  local before; before="$(rss_kib)"
  dotnet "$bench_dll" idle --port "$port" --conns "$conns" --hold-seconds 300 >"$prefix.idle" 2>&1 &
  helper_pid=$!
  local line=""
  for _ in $(seq 1200); do   # up to 120 s
    line="$(grep '^IDLE' "$prefix.idle" | tail -1)"
    [[ -n "$line" ]] && break
    kill -0 "$helper_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 3   # let the server settle (deferred allocations, GC)
  local after; after="$(rss_kib)"
  kill "$helper_pid" 2>/dev/null; wait "$helper_pid" 2>/dev/null; helper_pid=""
  stop_server
  if [[ -z "$line" || -z "$before" || -z "$after" ]]; then
    record "$name" "$kind" failed "no IDLE line or no RSS (${line:-helper gave nothing})"
    return
  fi
  local open errors
  open="$(field open "$line")"; errors="$(field errors "$line")"
  local per; per="$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN{ if (n > 0) printf "%.2f", (b-a)/n; else print "nan" }')"
  record "$name" "$kind" result "RESULT mode=idle conns=$conns open=$open errors=$errors rss_before_kib=$before rss_after_kib=$after kib_per_conn=$per"
  echo "[$name/$kind] open=$open errors=$errors rss ${before} -> ${after} KiB: $per KiB/conn" >&2
}

# stall_one SCENARIO KIND OP: how long one heavy request (LIST_KEYS of 131,072 keys, GET or SET of 8 MiB) holds up a
# bystander client (the benchmark project's stall probe)
stall_one() {
  local name="$1" kind="$2" op="$3"
  local prefix="$out/$name.$kind"
  start_server "$kind" "$prefix" || { record "$name" "$kind" failed "server did not start"; return; }
  local cpu0; cpu0="$(server_cpu)"
  timeout 600 dotnet "$bench_dll" stall --port "$port" --op "$op" >"$prefix.stall" 2>&1
  local cpu1; cpu1="$(server_cpu)"
  local line; line="$(grep '^RESULT' "$prefix.stall" | tail -1)"
  stop_server
  if [[ -z "$line" ]]; then
    record "$name" "$kind" failed "no RESULT from the stall probe"
    return
  fi
  record "$name" "$kind" result "$line"
  [[ -n "$cpu0" && -n "$cpu1" ]] && record "$name" "$kind" server_cpu_s "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b-a}')"
  echo "[$name/$kind] $line" >&2
}

scenario_index=0
# pair SCENARIO storeload-args... (or: pair SCENARIO --idle CONNS, or: pair SCENARIO --stall OP)
pair() {
  local name="$1"; shift
  [[ -n "$only" && ! "$name" =~ $only ]] && return
  local first=libuv second=ours
  (( scenario_index % 2 == 1 )) && { first=ours; second=libuv; }
  scenario_index=$((scenario_index + 1))
  echo "$name" >>"$out/scenarios"
  if [[ "$1" == "--idle" ]]; then
    idle_one "$name" "$first" "$2"; idle_one "$name" "$second" "$2"
  elif [[ "$1" == "--stall" ]]; then
    stall_one "$name" "$first" "$2"; stall_one "$name" "$second" "$2"
  else
    run_one "$name" "$first" "$@"; run_one "$name" "$second" "$@"
  fi
}

# pair_barrier SCENARIO N: N ranks meet through BARRIER at our server, and through ADD + WAIT (storeload storm) at
# libuv's, which does not know BARRIER.
pair_barrier() {
  local name="$1" n="$2"
  [[ -n "$only" && ! "$name" =~ $only ]] && return
  scenario_index=$((scenario_index + 1))
  echo "$name" >>"$out/scenarios"
  run_one "$name" libuv storm --conns "$n"
  generator="$barrier_storm" run_one "$name" ours --conns "$n"
}

# ---------------------------------------------------------------------------------------------- scenarios
: >"$out/scenarios"
log "storeload: $storeload; RLIMIT_NOFILE $nofile; raw output in $out"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r), .NET $(dotnet --version 2>/dev/null)"
  echo "uptime at start: $(uptime)"
  echo "our server: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null)$(git -C "$repo" diff --quiet 2>/dev/null || echo '+changes') $ours_args"
} >"$out/machine.txt"

if [[ $quick -eq 1 ]]; then conns_list="1 64"; big_list="1000 5000"; idle_conns=5000
else conns_list="1 64 1024"; big_list="1000 5000 10000"; idle_conns=10000; fi

for op in ping get set add mixed; do
  for c in $conns_list; do
    pair "ops-$op-c$c" ops --op "$op" --conns "$c" --seconds "$secs"
  done
done
pair "ops-get-c64-pipeline16" ops --op get --conns 64 --pipeline 16 --seconds "$secs"
for n in $big_list; do pair "storm-$n" storm --conns "$n"; done
for n in $big_list; do pair_barrier "barrier-$n" "$n"; done
for n in $big_list; do
  [[ $n -lt 5000 && $quick -eq 0 ]] && continue   # the issue's waiters target is 10,000
  pair "waiters-$n" waiters --conns "$n" --multiset
done
pair "idle-$idle_conns" --idle "$idle_conns"
for op in listkeys get set; do pair "stall-$op" --stall "$op"; done

echo "uptime at end: $(uptime)" >>"$out/machine.txt"

table="$out/table.md"
make_table "$out" >"$table"
cat "$table"
echo
cat "$out/machine.txt"
log "table: $table (raw: $results)"
