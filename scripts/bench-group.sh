#!/usr/bin/env bash
# Group drains (issue 13): `consume -g G -e` against the non-group drain and
# kcat on one broker, or a group of 1, 2 and 3 members draining one topic on
# the three-broker tier. Prints a markdown table on stdout.
#
#   scripts/bench-group.sh [BIN]                      built-in broker (`streamctl broker`), started here
#   BENCH_BROKER=host:port scripts/bench-group.sh BIN an existing broker
#   BENCH_BROKER=cluster scripts/bench-group.sh BIN   the three-broker tier (scripts/kafka/cluster-start.sh,
#                                                     started here and stopped after unless already running;
#                                                     honours STREAMCTL_CLUSTER_*): groups of 1, 2, 3 members
#
# Knobs: BENCH_RUNS (3), BENCH_TMP (/tmp/streamctl-bench), BENCH_GROUP_N
# (messages: 1M, or 3M on the cluster), BENCH_GROUP_PARTITIONS (10, or 12 on
# the cluster: shared evenly by 1, 2 and 3 members), BENCH_GROUP_TOPIC (a
# topic of BENCH_GROUP_N records a run before filled: no produce). Every command runs
# under a timeout.
set -euo pipefail

bin=${1:-bin/streamctl}
[[ $bin == */* ]] || bin=./$bin
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-3}
tmp=${BENCH_TMP:-/tmp/streamctl-bench}
broker=${BENCH_BROKER:-builtin}
limit=300 # seconds, for any one command

say() { printf 'bench-group: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[[ -x $bin ]] || die "no streamctl binary at $bin (hint: make build)"
mkdir -p "$tmp"
work=$(mktemp -d "$tmp/group.XXXXXX")
pids=()
cluster_started=""
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [[ -z $cluster_started ]] || timeout 120 "$root/scripts/kafka/cluster-stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
kcat=$(command -v kcat || command -v kafkacat || true)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  local i
  for i in $(seq 1 100); do (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0; sleep 0.1; done
  die "broker at $1 does not accept connections"
}

case $broker in
  builtin)
    addr=127.0.0.1:$(free_port)
    "$bin" broker --listen "$addr" --partitions 10 2>"$work/broker.log" &
    pids+=($!)
    wait_port "$addr"
    n=${BENCH_GROUP_N:-1000000}; parts=${BENCH_GROUP_PARTITIONS:-10}; rf=-1
    desc="built-in broker (\`streamctl broker\`, kfake) on $addr, on the same cores as the clients"
    ;;
  cluster)
    state=${STREAMCTL_CLUSTER_STATE:-}
    [[ -n $state ]] || die "BENCH_BROKER=cluster needs STREAMCTL_CLUSTER_STATE (and the other STREAMCTL_CLUSTER_* of scripts/kafka/cluster-start.sh)"
    if [[ ! -s $state/env ]] || ! (. "$state/env"; wait_port "${STREAMCTL_FAULTS_BROKER_1}") 2>/dev/null; then
      say "starting the three-broker tier in $state"
      timeout "$limit" "$root/scripts/kafka/cluster-start.sh" >"$work/cluster.log" 2>&1 || { cat "$work/cluster.log" >&2; die "cluster-start.sh failed"; }
      cluster_started=1
    fi
    addr=$(. "$state/env"; echo "$STREAMCTL_FAULTS_BROKERS")
    n=${BENCH_GROUP_N:-3000000}; parts=${BENCH_GROUP_PARTITIONS:-12}; rf=3
    desc="three Apache Kafka $(. "$state/env"; echo "$STREAMCTL_FAULTS_KAFKA_VERSION") brokers (scripts/kafka/cluster-start.sh, KRaft, replication factor 3) on $addr, on the same cores as the clients"
    ;;
  *:*) addr=$broker; wait_port "${addr%%,*}"; n=${BENCH_GROUP_N:-1000000}; parts=${BENCH_GROUP_PARTITIONS:-10}; rf=-1
    desc="broker at $addr" ;;
  *) die "BENCH_BROKER=$broker: want builtin, cluster or host:port" ;;
esac

# The records of issue 13: JSON objects of six fields, about 100 B a line.
input=$tmp/group-json-x$n.jsonl
if [[ ! -s $input ]]; then
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"id\":%d,\"user\":\"user-%06d\",\"amount\":\"%d.%02d\",\"at\":\"2024-05-01T12:%02d:%02d.000Z\",\"ok\":true,\"note\":null}\n",
      i, i % 1000000, i % 10000, i % 100, (i / 60) % 60, i % 60 }' >"$input.tmp" && mv "$input.tmp" "$input"
fi
run_id=gbench$(date +%s)$$
topic=${BENCH_GROUP_TOPIC:-$run_id-src} # BENCH_GROUP_TOPIC: a topic a run before filled
if [[ -z ${BENCH_GROUP_TOPIC:-} ]]; then
  say "producing $n records to $topic ($parts partitions) at $addr"
  timeout "$limit" "$bin" consume "$topic" -b "$addr" -e --create-partitions "$parts" --create-replication-factor "$rf" >/dev/null 2>"$work/create.log" ||
    { cat "$work/create.log" >&2; die "creating $topic failed"; }
  timeout "$limit" "$bin" produce "$topic" -b "$addr" --acks all -q <"$input" || die "producing to $topic failed"
fi
got=$(timeout "$limit" "$bin" consume "$topic" -b "$addr" -e -f '\n' | wc -l)
[[ $got == "$n" ]] || die "$topic holds $got records, want $n"

results=$work/results
: >"$results"
# measure label cmd...: one timed run; appends "label wall cpu rss_kb"
measure() {
  local label=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/time" timeout "$limit" "$@" >/dev/null 2>"$work/err" ||
    { cat "$work/err" >&2; die "$label failed: $*"; }
  t1=$(date +%s%N)
  read -r u s m < <(tail -n 1 "$work/time")
  awk -v l="$label" -v a="$t0" -v b="$t1" -v u="$u" -v s="$s" -v m="$m" 'BEGIN { printf "%s %.3f %.2f %d\n", l, (b - a) / 1e9, u + s, m }' >>"$results"
  say "$(tail -n 1 "$results")"
}
# members label k: k members of a fresh group drain the topic with -e; the
# wall time is until the last exits, CPU the members' sum; every record
# printed once between them.
members() {
  local label=$1 k=$2 i t0 t1 cpu=0 total=0
  local g=$run_id-$label-$RANDOM
  local mpids=()
  rm -f "$work"/out-* "$work"/err-* "$work"/time-*
  t0=$(date +%s%N)
  for i in $(seq 1 "$k"); do
    /usr/bin/time -f '%U %S' -o "$work/time-$i" timeout "$limit" "$bin" consume "$topic" -b "$addr" -g "$g" -e \
      --instance-id "$g-$i" -f '%p %o\n' >"$work/out-$i" 2>"$work/err-$i" &
    mpids+=($!)
  done
  for i in "${!mpids[@]}"; do wait "${mpids[$i]}" || { cat "$work/err-$((i + 1))" >&2; die "$label: member $((i + 1)) failed"; }; done
  t1=$(date +%s%N)
  for i in $(seq 1 "$k"); do
    cpu=$(awk -v c="$cpu" '{ c += $1 + $2 } END { print c }' "$work/time-$i")
  done
  total=$(sort -u "$work"/out-* | wc -l)
  [[ $total == "$n" && $(cat "$work"/out-* | wc -l) == "$n" ]] || die "$label: $total distinct of $(cat "$work"/out-* | wc -l) printed, want $n once each"
  awk -v l="$label" -v a="$t0" -v b="$t1" -v c="$cpu" 'BEGIN { printf "%s %.3f %.2f 0\n", l, (b - a) / 1e9, c }' >>"$results"
  say "$(tail -n 1 "$results")"
}

load_before=$(uptime | sed 's/.*load average: //')
if [[ $broker == cluster ]]; then
  for i in $(seq 1 "$runs"); do
    for k in 1 2 3; do members "members-$k" "$k"; done
  done
else
  for i in $(seq 1 "$runs"); do
    measure group-drain "$bin" consume "$topic" -b "$addr" -g "$run_id-g$i" -e
    measure drain "$bin" consume "$topic" -b "$addr" -e
    [[ -z $kcat ]] || measure kcat "$kcat" -b "$addr" -C -t "$topic" -e -o beginning -q
  done
fi
load_after=$(uptime | sed 's/.*load average: //')

med() { # label field: median over the runs
  awk -v l="$1" -v f="$2" '$1 == l { print $f }' "$results" | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { [[ $1 == - ]] && echo n/a || awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l ? "met" : "**missed**") }'; }

echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'): $desc; $n records of about $(awk '{ s += length($0) + 1 } END { printf "%d", s / NR }' "$input") B (JSON), $parts partitions, medians of $runs runs; load average before $load_before, after $load_after ($(nproc) CPUs)."
echo
if [[ $broker == cluster ]]; then
  echo "Command of each member: \`streamctl consume T -b B -g G -e --instance-id G-i -f '%p %o\n'\`, all started together; wall until the last exits, CPU summed over the members."
  echo
  echo "| members | wall | speed-up | CPU (all members) |"
  echo "| ---: | ---: | ---: | ---: |"
  w1=$(med members-1 2)
  for k in 1 2 3; do
    w=$(med "members-$k" 2)
    echo "| $k | ${w}s | $(ratio "$w1" "$w")x | $(med "members-$k" 3)s |"
  done
else
  gw=$(med group-drain 2); gc=$(med group-drain 3); dw=$(med drain 2); dc=$(med drain 3); kw=$(med kcat 2); kc=$(med kcat 3)
  echo "| case | command | wall | CPU |"
  echo "| --- | --- | ---: | ---: |"
  echo "| group drain | \`streamctl consume T -g G -e\` | ${gw}s | ${gc}s |"
  echo "| drain outside a group | \`streamctl consume T -e\` | ${dw}s | ${dc}s |"
  [[ -z $kcat ]] || echo "| kcat | \`kcat -C -t T -e -o beginning -q\` | ${kw}s | ${kc}s |"
  echo
  r1=$(ratio "$gw" "$kw"); r2=$(ratio "$gc" "$dc")
  echo "| target | measured | verdict |"
  echo "| --- | --- | --- |"
  echo "| group drain wall ≤ 0.5x kcat | $r1 | $(verdict "$r1" 0.5) |"
  echo "| group drain CPU ≤ 1.2x the drain outside a group | $r2 | $(verdict "$r2" 1.2) |"
fi
echo
echo "<details><summary>every run (label, wall s, CPU s, peak RSS KB)</summary>"
echo
echo '```'
cat "$results"
echo '```'
echo "</details>"
