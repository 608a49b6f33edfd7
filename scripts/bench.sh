#!/usr/bin/env bash
# streamctl against kcat (C, librdkafka) on the same broker, in the same run:
# consume drain, produce from a file, peak memory at two sizes and time to
# first message. Writes the medians and the ratios streamctl/kcat into
# docs/BENCHMARKS.md, replacing only the section of the broker it measured.
#
#   scripts/bench.sh [BIN]                         built-in broker (kfake), started here
#   BENCH_BROKER=host:port scripts/bench.sh BIN    an existing broker, e.g. scripts/kafka/start.sh
#   BENCH_BROKER=kafka scripts/bench.sh BIN        start a private Apache Kafka (scripts/kafka), stop it after
#
# Knobs: BENCH_RUNS (3: runs per tool and case), BENCH_TTFM_RUNS (5),
# BENCH_MICRO=1 (also go test -bench), BENCH_PYTHON=0 (skip the Avro comparison
# with Confluent's Python client), BENCH_OUT (docs/BENCHMARKS.md),
# BENCH_TMP (cached input files, /tmp/streamctl-bench), BENCH_SMALL=1 (a
# quick smoke run: 10x fewer messages; not written to BENCH_OUT), BENCH_CASES
# (all: a comma list of kcat, avro, verbs, group, startup), BENCH_BROKER_GOGC (25: the
# built-in broker's GOGC; it holds the whole run in memory).
set -euo pipefail

bin=${1:-bin/streamctl}
[[ $bin == */* ]] || bin=./$bin
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-3}
ttfm_runs=${BENCH_TTFM_RUNS:-5}
out=${BENCH_OUT:-$root/docs/BENCHMARKS.md}
tmp=${BENCH_TMP:-/tmp/streamctl-bench}
broker=${BENCH_BROKER:-builtin}
scale=1
[[ ${BENCH_SMALL:-} == 1 ]] && scale=10
# BENCH_CASES picks what to measure, a comma list of: kcat (consume, produce,
# memory and first message against kcat), avro, verbs (consume --where and
# --grep, offsets -g against kcat -Q), group (scripts/bench-group.sh), startup
# (process start and first message on a small topic); all (the
# default) is every one.
cases=${BENCH_CASES:-all}
want() { [[ $cases == all || ,$cases, == *,$1,* ]]; }

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ -x $bin ]] || die "no streamctl binary at $bin (hint: make build)"
mkdir -p "$tmp"
work=$(mktemp -d "$tmp/run.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [[ -n ${kafka_state:-} ]] && STREAMCTL_KAFKA_STATE=$kafka_state "$root/scripts/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- tools -----------------------------------------------------------------
apt_install() { # package: installs it when we are root and apt is there
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
  say "installing $1 (apt-get)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1"; } >/dev/null 2>&1
}
[[ -x /usr/bin/time ]] || apt_install time || die "/usr/bin/time is missing (hint: apt-get install time)"
kcat=$(command -v kcat || command -v kafkacat || true)
if [[ -z $kcat ]] && apt_install kcat; then kcat=$(command -v kcat || true); fi
[[ -n $kcat ]] || say "kcat not found and not installable here: measuring streamctl only"

# --- broker ----------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
wait_port() { # host:port
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  die "broker at $1 does not accept connections"
}
kafka_version=""
case $broker in
  builtin)
    addr=127.0.0.1:$(free_port)
    # The broker keeps every record of the run in memory; at Go's default
    # GOGC its heap doubles that (7 GB for a whole run). GOGC=25 keeps it
    # near 1.25x for the price of some broker CPU, the same for both tools.
    GOGC=${BENCH_BROKER_GOGC:-25} "$bin" broker --listen "$addr" --partitions 10 2>"$work/broker.log" &
    pids+=($!)
    wait_port "$addr"
    section=builtin
    broker_desc="built-in broker (\`streamctl broker\`, franz-go kfake, in memory) on $addr, **on the same 2 cores as the clients**: its CPU competes with the client measured"
    ;;
  kafka)
    kafka_state=$tmp/kafka
    export STREAMCTL_KAFKA_STATE=$kafka_state
    say "starting a private Apache Kafka in $kafka_state"
    STREAMCTL_KAFKA_PORT=$(free_port) STREAMCTL_KAFKA_SASL_PORT=$(free_port) STREAMCTL_KAFKA_SSL_PORT=$(free_port) \
      STREAMCTL_KAFKA_MTLS_PORT=$(free_port) STREAMCTL_KAFKA_CONTROLLER_PORT=$(free_port) \
      STREAMCTL_KAFKA_HEAP=${STREAMCTL_KAFKA_HEAP:-1g} "$root/scripts/kafka/start.sh" >"$work/kafka.log" 2>&1 ||
      { cat "$work/kafka.log" >&2; die "scripts/kafka/start.sh failed"; }
    unset STREAMCTL_KAFKA_STATE
    addr=$(. "$kafka_state/env"; echo "$STREAMCTL_TEST_KAFKA")
    kafka_version=$(. "$kafka_state/env"; echo "${STREAMCTL_TEST_KAFKA_VERSION:-}")
    section=external
    broker_desc="Apache Kafka ${kafka_version} (scripts/kafka/start.sh: single KRaft node, JVM heap ${STREAMCTL_KAFKA_HEAP:-1g}) on $addr, on the same machine"
    ;;
  *:*)
    addr=$broker
    wait_port "$addr"
    section=external
    kafka_version=${BENCH_KAFKA_VERSION:-${STREAMCTL_TEST_KAFKA_VERSION:-}}
    broker_desc="${BENCH_BROKER_DESC:-existing broker${kafka_version:+ (Apache Kafka $kafka_version)}} at $addr"
    ;;
  *) die "BENCH_BROKER=$broker: want builtin, kafka or host:port" ;;
esac
say "broker: $addr ($section)"

# --- inputs, generated once and cached ---------------------------------------
n_small=$((1000000 / scale))   # 100-byte messages
n_flat=$((100000 / scale))     # the same, 10x fewer, for memory flatness
n_large=$((10000 / scale))     # 10 KB messages
gen() { # file count size: numbered lines of exactly size bytes (newline not counted)
  local f=$tmp/$1
  if [[ ! -s $f ]]; then
    awk -v n="$2" -v size="$3" 'BEGIN {
      while (length(pad) < size - 10) pad = pad "x"
      for (i = 0; i < n; i++) printf "%09d:%s\n", i, pad }' >"$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$f"
}
gen_json() { # JSON records of six fields, about 130 B each: the Avro and verbs cases' input
  local f=$tmp/events-json-x$n_small.jsonl
  if [[ ! -s $f ]]; then
    awk -v n="$n_small" 'BEGIN { for (i = 0; i < n; i++)
      printf "{\"id\":%d,\"user\":\"user-%06d\",\"amount\":\"%d.%02d\",\"at\":\"2024-05-01T12:%02d:%02d.000Z\",\"ok\":true,\"note\":null}\n",
        i, i % 1000000, i % 10000, i % 100, (i / 60) % 60, i % 60 }' >"$f.tmp" && mv "$f.tmp" "$f"
  fi
  echo "$f"
}
in_small=$(gen "m100x$n_small.txt" "$n_small" 100)
in_flat=$(gen "m100x$n_flat.txt" "$n_flat" 100)
in_large=$(gen "m10240x$n_large.txt" "$n_large" 10240)

# --- measuring -----------------------------------------------------------------
run_id=bench$(date +%s)$$
topics=()
topic() { echo "$run_id-$1"; }
create_topics() { # names...: 10 partitions each, empty (consume -e on an empty topic exits at once)
  "$bin" consume "$@" -b "$addr" -e --create-partitions 10 >/dev/null 2>"$work/create.log" ||
    { cat "$work/create.log" >&2; die "creating topics failed"; }
}

# measure label tool cmd...: one timed run; appends "label tool wall user sys rss_kb"
results=$work/results
# medians results keys: for each key of a results file (lines "label tool
# wall user sys rss_kb", as measure writes them), in the order they first
# come, the medians of wall, CPU (user+sys) and peak RSS in MB. The key is
# "label tool" with keys 2, the label alone with keys 1.
medians() {
  awk -v keys="$2" '
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { k = keys == 2 ? $1 " " $2 : $1; if (!(k in wall)) order[++n] = k
      wall[k] = wall[k] " " $3; cpu[k] = cpu[k] " " ($4 + $5); rss[k] = rss[k] " " ($6 / 1024) }
    END { for (i = 1; i <= n; i++) { k = order[i]; printf "%s %.3f %.2f %.0f\n", k, median(wall[k]), median(cpu[k]), median(rss[k]) } }
  ' "$1"
}

measure() {
  local label=$1 tool=$2; shift 2
  local t0 t1 rc=0
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || rc=$?
  t1=$(date +%s%N)
  if [[ $rc != 0 ]]; then
    cat "$work/err" >&2
    die "$label/$tool failed (exit $rc): $*"
  fi
  read -r u s m < <(tail -n 1 "$work/time")
  printf '%s %s %s %s %s %s\n' "$label" "$tool" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')" "$u" "$s" "$m" >>"$results"
  say "$(printf '%-14s %-9s wall %6.3fs cpu %6.2fs rss %4d MB' "$label" "$tool" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print (b-a)/1e9}')" "$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')" $((m / 1024)))"
}

# count topic: messages in it, read back by kcat (or streamctl): proves a produce delivered all
count() {
  if [[ -n $kcat ]]; then "$kcat" -b "$addr" -C -t "$1" -e -o beginning -q -f '\n' | wc -l
  else "$bin" consume "$1" -b "$addr" -e -f '\n' | wc -l; fi
}
check_count() { # topic want
  local got
  got=$(count "$1")
  [[ $got == "$2" ]] || die "topic $1 holds $got messages, want $2"
}

# produce_case label input n: fresh empty topic per run, alternating who goes first
produce_case() {
  local label=$1 input=$2 n=$3 i first ts tk
  local names=()
  for i in $(seq 1 "$runs"); do names+=("$(topic "$label-s$i")" "$(topic "$label-k$i")"); done
  create_topics "${names[@]}"
  for i in $(seq 1 "$runs"); do
    ts=$(topic "$label-s$i"); tk=$(topic "$label-k$i")
    for first in $( ((i % 2)) && echo "s k" || echo "k s"); do
      if [[ $first == s ]]; then
        measure "$label" streamctl "$bin" produce "$ts" -b "$addr" --acks all -q <"$input"
      elif [[ -n $kcat ]]; then
        measure "$label" kcat "$kcat" -b "$addr" -P -t "$tk" -X acks=all -l "$input"
      fi
    done
  done
  check_count "$(topic "$label-s1")" "$n"
  [[ -z $kcat ]] || check_count "$(topic "$label-k1")" "$n"
}

# consume_case label topic: drain a full topic to /dev/null, exit at the end
consume_case() {
  local label=$1 t=$2 i first
  for i in $(seq 1 "$runs"); do
    for first in $( ((i % 2)) && echo "s k" || echo "k s"); do
      if [[ $first == s ]]; then
        measure "$label" streamctl "$bin" consume "$t" -b "$addr" -e
      elif [[ -n $kcat ]]; then
        measure "$label" kcat "$kcat" -b "$addr" -C -t "$t" -e -o beginning -q
      fi
    done
  done
}

ttfm_case() {
  local label=$1 t=$2 i first
  for i in $(seq 1 "$ttfm_runs"); do
    for first in $( ((i % 2)) && echo "s k" || echo "k s"); do
      if [[ $first == s ]]; then
        measure "$label" streamctl "$bin" consume "$t" -b "$addr" -n 1
      elif [[ -n $kcat ]]; then
        measure "$label" kcat "$kcat" -b "$addr" -C -t "$t" -c 1 -o beginning -q
      fi
    done
  done
}

started=$(date +%s)
: >"$results"
elapsed=0
if want kcat; then
say "produce: $n_small x 100 B, $n_flat x 100 B, $n_large x 10 KB; $runs runs each"
produce_case produce-100B "$in_small" "$n_small"
produce_case produce-100B-flat "$in_flat" "$n_flat"
produce_case produce-10KB "$in_large" "$n_large"
# The topics streamctl filled in its first produce run are the consume
# sources, read by both tools (the count check above proved them full).
consume_case consume-100B "$(topic produce-100B-s1)"
consume_case consume-100B-flat "$(topic produce-100B-flat-s1)"
consume_case consume-10KB "$(topic produce-10KB-s1)"
ttfm_case first-message "$(topic produce-100B-s1)"

# --- issue 13, non-group paths (branch speed) ----------------------------------
# consume -s json -e against streamctl's own raw drain of the same JSON
# topic, and produce peak RSS at 100k, 1M and 3M x 100 B (streamctl alone;
# kcat's 1M is produce-100B above). BENCH_SPEED13=0 skips it.
speed13=${BENCH_SPEED13:-1}
if [[ $speed13 == 1 ]]; then
  n_json=$((1000000 / scale)); n_big=$((3000000 / scale))
  in_j13=$tmp/events-json-x$n_json.jsonl
  if [[ ! -s $in_j13 ]]; then
    awk -v n="$n_json" 'BEGIN { for (i = 0; i < n; i++)
      printf "{\"id\":%d,\"user\":\"user-%06d\",\"amount\":\"%d.%02d\",\"at\":\"2024-05-01T12:%02d:%02d.000Z\",\"ok\":true,\"note\":null}\n",
        i, i % 1000000, i % 10000, i % 100, (i / 60) % 60, i % 60 }' >"$in_j13.tmp" && mv "$in_j13.tmp" "$in_j13"
  fi
  in_big=$(gen "m100x$n_big.txt" "$n_big" 100)
  tj=$(topic json13)
  create_topics "$tj"
  "$bin" produce "$tj" -b "$addr" --acks all -q <"$in_j13" || die "producing the JSON topic failed"
  check_count "$tj" "$n_json"
  for i in $(seq 1 "$runs"); do
    measure consume-json-raw streamctl "$bin" consume "$tj" -b "$addr" -e
    measure consume-json-s streamctl "$bin" consume "$tj" -b "$addr" -e -s json
  done
  rss_names=()
  for i in $(seq 1 "$runs"); do rss_names+=("$(topic rss3m-$i)"); done
  create_topics "${rss_names[@]}"
  for i in $(seq 1 "$runs"); do
    measure produce-100B-3M streamctl "$bin" produce "$(topic rss3m-$i)" -b "$addr" --acks all -q <"$in_big"
  done
  check_count "$(topic rss3m-1)" "$n_big"
fi
elapsed=$(($(date +%s) - started))
say "measured in ${elapsed}s"
fi

# --- Avro through a schema registry (streamctl only) ---------------------------
# The same small records as JSON and as Avro: produce -s json vs -s avro, and
# consume -s json -J vs -s avro -e. The registry is BENCH_REGISTRY or a
# built-in one (streamctl broker --registry) started here.
avro_table=""
if [[ ${BENCH_AVRO:-1} == 1 ]] && want avro; then
  registry=${BENCH_REGISTRY:-}
  if [[ -z $registry ]]; then
    rport=$(free_port)
    "$bin" broker --listen 127.0.0.1:0 --registry "127.0.0.1:$rport" 2>"$work/registry.log" &
    pids+=($!)
    wait_port "127.0.0.1:$rport"
    registry=http://127.0.0.1:$rport
  fi
  avsc=$work/bench.avsc
  cat >"$avsc" <<'AVSC'
{"type":"record","name":"Event","namespace":"bench","fields":[
  {"name":"id","type":"long"},{"name":"user","type":"string"},
  {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"ok","type":"boolean"},{"name":"note","type":["null","string"],"default":null}]}
AVSC
  in_json=$(gen_json)
  sreg=(--schema-registry "$registry")
  avro_names=()
  for i in $(seq 1 "$runs"); do avro_names+=("$(topic avro-a$i)" "$(topic avro-j$i)"); done
  create_topics "${avro_names[@]}"
  # Register once, outside the measurements.
  head -n 1 "$in_json" | "$bin" produce "$(topic avro-warm)" -b "$addr" "${sreg[@]}" -s avro --value-schema "$avsc" --register \
    --subject-strategy record -q || die "registering the Avro schema failed"
  for i in $(seq 1 "$runs"); do
    measure produce-json streamctl "$bin" produce "$(topic avro-j$i)" -b "$addr" --acks all -q -s json <"$in_json"
    measure produce-avro streamctl "$bin" produce "$(topic avro-a$i)" -b "$addr" --acks all -q "${sreg[@]}" \
      -s avro --value-subject bench.Event <"$in_json"
  done
  check_count "$(topic avro-a1)" "$n_small"
  for i in $(seq 1 "$runs"); do
    measure consume-json-J streamctl "$bin" consume "$(topic avro-j1)" -b "$addr" -e -s json -J
    measure consume-avro streamctl "$bin" consume "$(topic avro-a1)" -b "$addr" -e "${sreg[@]}" -s avro
    measure consume-avro-J streamctl "$bin" consume "$(topic avro-a1)" -b "$addr" -e "${sreg[@]}" -s avro -J
  done

  # The same Avro records through Confluent's Python client (issue 10:
  # "at least 10x faster than the Python deserializer"): streamctl consume
  # -s avro -e vs scripts/bench/py_avro_consume.py (Consumer +
  # AvroDeserializer, json.dumps per record), both to /dev/null, on one topic
  # of py_n records; then the decode alone (Python: a loop over values fetched
  # first; streamctl: -s avro minus a raw drain of the same topic). Needs the
  # venv of scripts/registry/venv.sh; BENCH_PYTHON=0 skips it.
  py_n=0
  if [[ ${BENCH_PYTHON:-1} != 1 ]]; then
    say "Python comparison skipped (BENCH_PYTHON=${BENCH_PYTHON})"
  elif ! py=$("$root/scripts/registry/venv.sh" 2>"$work/venv.log"); then
    say "Python comparison skipped: no confluent-kafka venv ($(head -n 1 "$work/venv.log"))"
  else
    py_n=$((200000 / scale))
    tp=$(topic avro-py)
    create_topics "$tp"
    head -n "$py_n" "$in_json" | "$bin" produce "$tp" -b "$addr" --acks all -q "${sreg[@]}" -s avro --value-subject bench.Event ||
      die "producing the Python comparison's topic failed"
    check_count "$tp" "$py_n"
    pyargs=(--bootstrap "$addr" --registry "$registry" --topic "$tp" --count "$py_n")
    : >"$work/pydecode"
    for i in $(seq 1 "$runs"); do
      measure py-raw streamctl "$bin" consume "$tp" -b "$addr" -e
      measure py-avro streamctl "$bin" consume "$tp" -b "$addr" -e "${sreg[@]}" -s avro
      measure py-avro python "$py" "$root/scripts/bench/py_avro_consume.py" consume "${pyargs[@]}"
      measure py-decode python "$py" "$root/scripts/bench/py_avro_consume.py" decode "${pyargs[@]}"
      grep '^decode ' "$work/err" >>"$work/pydecode" || die "py_avro_consume.py decode printed no timing"
    done
  fi
fi

# --- CI verbs (issue 11): consume filters, offsets -------------------------------
# consume -e -s json of the Avro block's JSON records with and without
# --where, the raw drain with and without --grep (both expressions true of
# every record, so that the output is the same), and offsets -g of a
# 100-partition topic against kcat -Q of the same 100 partitions.
verbs_where='.value.ok and .value.id >= 0'
verbs_grep='v:"user":"user-[0-9]+"'
if want verbs; then
  verbs_load=$(awk '{ print $1, $2, $3 }' /proc/loadavg)
  verbs_started=$(date +%s)
  in_json=$(gen_json)
  vt=$(topic verbs-json)
  create_topics "$vt"
  "$bin" produce "$vt" -b "$addr" --acks all -q <"$in_json" || die "producing $in_json failed"
  got=$("$bin" consume "$vt" -b "$addr" -e -s json --where "$verbs_where" | wc -l)
  [[ $got == "$n_small" ]] || die "--where $verbs_where matched $got of $n_small records, want all"
  got=$("$bin" consume "$vt" -b "$addr" -e --grep "$verbs_grep" | wc -l)
  [[ $got == "$n_small" ]] || die "--grep $verbs_grep matched $got of $n_small records, want all"
  for i in $(seq 1 "$runs"); do
    measure verbs-json streamctl "$bin" consume "$vt" -b "$addr" -e -s json
    measure verbs-where streamctl "$bin" consume "$vt" -b "$addr" -e -s json --where "$verbs_where"
    measure verbs-raw streamctl "$bin" consume "$vt" -b "$addr" -e
    measure verbs-grep streamctl "$bin" consume "$vt" -b "$addr" -e --grep "$verbs_grep"
  done
  ot=$(topic verbs-offsets)
  og=$ot-g
  "$bin" consume "$ot" -b "$addr" -e --create-partitions 100 >/dev/null 2>"$work/create.log" ||
    { cat "$work/create.log" >&2; die "creating $ot failed"; }
  awk 'BEGIN { for (i = 0; i < 1000; i++) print "k" i ":v" }' | "$bin" produce "$ot" -b "$addr" -K: -q ||
    die "producing into $ot failed"
  "$bin" consume "$ot" -b "$addr" -g "$og" -n 500 >/dev/null || die "consuming $ot as $og failed"
  qargs=()
  for p in $(seq 0 99); do qargs+=(-t "$ot:$p:-1"); done # -1: the end offset
  for i in $(seq 1 "$ttfm_runs"); do
    for first in $( ((i % 2)) && echo "s k" || echo "k s"); do
      if [[ $first == s ]]; then
        measure verbs-offsets streamctl "$bin" offsets "$ot" -b "$addr" -g "$og"
      elif [[ -n $kcat ]]; then
        measure verbs-offsets kcat "$kcat" -b "$addr" -Q "${qargs[@]}"
      fi
    done
  done
  verbs_elapsed=$(($(date +%s) - verbs_started))
fi

# --- report ----------------------------------------------------------------------
# summary: "label tool wall cpu rss_mb" with medians over the runs
summary=$work/summary
medians "$results" 2 >"$summary"

get() { awk -v l="$1" -v t="$2" -v f="$3" '$1 == l && $2 == t { print $f }' "$summary"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
x() { [[ $1 == - ]] && echo "-" || echo "${1}x"; }
verdict() { # value limit
  [[ $1 == - ]] && { echo "n/a"; return; }
  awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l ? "met" : "**missed**") }'
}

go_version=$(go version 2>/dev/null | awk '{print $3}' || true)
st_version=$("$bin" --version 2>&1 | awk '{print $NF}')
kcat_version="not installed"
if [[ -n $kcat ]]; then
  # "Version 1.7.1 (JSON, ..., librdkafka 2.0.2 builtin.features=...)"
  kcat_version=$("$kcat" -V 2>&1 | sed -n 's/^Version \([^ ]*\) .*librdkafka \([^ ]*\) .*/\1 with librdkafka \2/p')
  pkg=$(dpkg-query -W -f '${Version}' kcat 2>/dev/null || true)
  kcat_version="$kcat_version${pkg:+ (Debian package $pkg)}"
fi
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)

table=""
if want kcat; then
table=$work/table.md
{
  echo "### $( [[ $section == builtin ]] && echo "Built-in broker" || echo "Apache Kafka")"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') in ${elapsed}s: $broker_desc."
  echo
  echo "- machine: $(nproc) CPUs ($cpu_model), $mem_total RAM, Linux $(uname -r)"
  echo "- streamctl $st_version built with $go_version; kcat $kcat_version"
  echo "- medians of $runs runs per tool and case ($ttfm_runs for time to first message), streamctl and kcat alternating, each producing into its own fresh 10-partition topic and draining the same full one"
  echo "- wall: elapsed time of the process; CPU: its user+sys (the broker's is not counted); RSS: its peak resident set"
  echo "- commands (T a topic, B the broker, FILE numbered lines of 100 B or 10 KB):"
  echo "  - consume: \`streamctl consume T -b B -e > /dev/null\` vs \`kcat -b B -C -t T -e -o beginning -q > /dev/null\`"
  echo "  - produce: \`streamctl produce T -b B --acks all -q < FILE\` vs \`kcat -b B -P -t T -X acks=all -l FILE\`"
  echo "  - first message: \`streamctl consume T -b B -n 1\` vs \`kcat -b B -C -t T -c 1 -o beginning -q\` (process start, connection and fetch)"
  echo
  echo "| case | streamctl wall | kcat wall | ratio | streamctl CPU | kcat CPU | ratio | streamctl RSS | kcat RSS |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for l in consume-100B consume-100B-flat consume-10KB produce-100B produce-100B-flat produce-10KB first-message; do
    case $l in
      consume-100B) d="consume $n_small x 100 B" ;; consume-100B-flat) d="consume $n_flat x 100 B" ;;
      consume-10KB) d="consume $n_large x 10 KB" ;; produce-100B) d="produce $n_small x 100 B" ;;
      produce-100B-flat) d="produce $n_flat x 100 B" ;; produce-10KB) d="produce $n_large x 10 KB" ;;
      first-message) d="time to first message" ;;
    esac
    sw=$(get $l streamctl 3); kw=$(get $l kcat 3); sc=$(get $l streamctl 4); kc=$(get $l kcat 4)
    sr=$(get $l streamctl 5); kr=$(get $l kcat 5)
    printf '| %s | %ss | %s | %s | %ss | %s | %s | %s MB | %s |\n' "$d" "$sw" "${kw:+${kw}s}" "$(ratio "$sw" "$kw")" \
      "$sc" "${kc:+${kc}s}" "$(ratio "$sc" "$kc")" "$sr" "${kr:+$kr MB}"
  done
  echo
  echo "Targets (ratios streamctl/kcat, same broker, same run):"
  echo
  echo "| target | measured | verdict |"
  echo "| --- | --- | --- |"
  for l in consume-100B consume-10KB; do
    w=$(ratio "$(get $l streamctl 3)" "$(get $l kcat 3)"); c=$(ratio "$(get $l streamctl 4)" "$(get $l kcat 4)")
    echo "| $l: wall ≤ 0.5x kcat | $(x "$w") | $(verdict "$w" 0.5) |"
    echo "| $l: CPU ≤ 1.0x kcat | $(x "$c") | $(verdict "$c" 1.0) |"
  done
  for l in produce-100B produce-10KB; do
    w=$(ratio "$(get $l streamctl 3)" "$(get $l kcat 3)"); c=$(ratio "$(get $l streamctl 4)" "$(get $l kcat 4)")
    echo "| $l: wall ≤ 1.0x kcat | $(x "$w") | $(verdict "$w" 1.0) |"
    echo "| $l: CPU ≤ 1.5x kcat | $(x "$c") | $(verdict "$c" 1.5) |"
  done
  for kind in consume produce; do
    big=$(get $kind-100B streamctl 5); small=$(get $kind-100B-flat streamctl 5)
    flat=$(awk -v a="$big" -v b="$small" 'BEGIN { print (a <= 100 && a <= b * 1.25 + 5 ? "met" : "**missed**") }')
    echo "| $kind peak RSS flat in messages (within 25%) and < 100 MB | $n_flat: $small MB, $n_small: $big MB | $flat |"
  done
  t=$(ratio "$(get first-message streamctl 3)" "$(get first-message kcat 3)")
  echo "| time to first message ≤ 1.0x kcat | $(x "$t") | $(verdict "$t" 1.0) |"
  echo
  echo "<details><summary>every run (label, tool, wall s, user s, sys s, peak RSS KB)</summary>"
  echo
  echo '```'
  cat "$results"
  echo '```'
  echo "</details>"
} >"$table"
fi

if [[ ${BENCH_AVRO:-1} == 1 ]] && want avro; then
  avro_table=$work/avro.md
  {
    echo "### Avro through the schema registry ($( [[ $section == builtin ]] && echo "built-in broker" || echo "Apache Kafka"))"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), same broker and machine as above, registry ${BENCH_REGISTRY:-built in (\`streamctl broker --registry\`)}; streamctl alone first, medians of $runs runs."
    echo "$n_small records of six fields (long, string, decimal, timestamp-millis, boolean, nullable string): about $(awk '{ n += length($0) + 1 } END { printf "%d", n / NR }' "$in_json") B as JSON."
    echo
    echo "| case | command | wall | CPU | RSS |"
    echo "| --- | --- | ---: | ---: | ---: |"
    for l in produce-json produce-avro consume-json-J consume-avro consume-avro-J; do
      case $l in
        produce-json) c='`produce T -s json < FILE`' ;; produce-avro) c='`produce T -s avro --value-subject S < FILE`' ;;
        consume-json-J) c='`consume T -e -s json -J`' ;; consume-avro) c='`consume T -e -s avro`' ;;
        consume-avro-J) c='`consume T -e -s avro -J`' ;;
      esac
      printf '| %s | %s | %ss | %ss | %s MB |\n' "$l" "$c" "$(get $l streamctl 3)" "$(get $l streamctl 4)" "$(get $l streamctl 5)"
    done
    echo
    r=$(ratio "$(get consume-avro streamctl 4)" "$(get consume-json-J streamctl 4)")
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    echo "| Avro decode to JSON (\`consume -s avro -e\`): CPU ≤ 2x \`consume -s json -J\` of the same records as JSON | $(x "$r") | $(verdict "$r" 2.0) |"
    if ((py_n == 0)); then
      echo "| at least 10x faster than Confluent's Python deserializer | not measured here (needs confluent-kafka) | n/a |"
    else
      med() { sort -n | awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
      pdc=$(awk '{ print $3 }' "$work/pydecode" | med); pdw=$(awk '{ print $4 }' "$work/pydecode" | med)
      sdc=$(awk -v a="$(get py-avro streamctl 4)" -v b="$(get py-raw streamctl 4)" 'BEGIN { printf "%.2f", a - b }')
      rc=$(ratio "$(get py-avro python 4)" "$(get py-avro streamctl 4)"); rw=$(ratio "$(get py-avro python 3)" "$(get py-avro streamctl 3)")
      rd=$(ratio "$pdc" "$sdc")
      atleast() { [[ $1 == - ]] && echo n/a || awk -v v="$1" -v l="$2" 'BEGIN { print (v >= l ? "met" : "**missed**") }'; }
      echo "| at least 10x faster than Confluent's Python deserializer: Python CPU / streamctl CPU, same $py_n records | $(x "$rc") (wall $(x "$rw")) | $(atleast "$rc" 10) |"
      echo "| the same, decode to JSON alone (no Kafka client) | $(x "$rd") | $(atleast "$rd" 10) |"
      echo
      echo "Against Confluent's Python client (confluent-kafka $("$py" -c 'from importlib.metadata import version; print(version("confluent-kafka"))'), fastavro $("$py" -c 'import fastavro; print(fastavro.__version__)'), $("$py" -V 2>&1)), one 10-partition topic of the first $py_n of the records above, medians of $runs runs:"
      echo
      echo "| case | command | wall | CPU | RSS |"
      echo "| --- | --- | ---: | ---: | ---: |"
      printf '| %s | %s | %ss | %ss | %s MB |\n' "streamctl raw drain" '`streamctl consume T -e`' "$(get py-raw streamctl 3)" "$(get py-raw streamctl 4)" "$(get py-raw streamctl 5)"
      printf '| %s | %s | %ss | %ss | %s MB |\n' "streamctl Avro to JSON" '`streamctl consume T -e -s avro`' "$(get py-avro streamctl 3)" "$(get py-avro streamctl 4)" "$(get py-avro streamctl 5)"
      printf '| %s | %s | %ss | %ss | %s MB |\n' "Python Avro to JSON" '`py_avro_consume.py consume ... --count N`' "$(get py-avro python 3)" "$(get py-avro python 4)" "$(get py-avro python 5)"
      printf '| %s | %s | %ss | %ss | - |\n' "Python decode loop alone" '`py_avro_consume.py decode ...` (its own timing of the loop)' "$pdw" "$pdc"
      printf '| %s | %s | - | %ss | - |\n' "streamctl decode alone" 'Avro to JSON minus raw drain' "$sdc"
    fi
  } >"$avro_table"
fi

verbs_table=""
if want verbs; then
  verbs_table=$work/verbs.md
  {
    echo "### CI verbs: consume filters and offsets ($( [[ $section == builtin ]] && echo "built-in broker" || echo "Apache Kafka"))"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') in ${verbs_elapsed}s: $broker_desc; load average before: $verbs_load."
    echo "Medians of $runs runs ($ttfm_runs for offsets). Input: $n_small JSON records of six fields (about $(awk '{ n += length($0) + 1 } END { printf "%d", n / NR }' "$in_json") B) in a 10-partition topic; both expressions are true of every record, so the output is the same with and without them. offsets: a 100-partition topic of 1000 keyed messages and a group that committed 500."
    echo
    echo "| case | command | wall | CPU | RSS |"
    echo "| --- | --- | ---: | ---: | ---: |"
    for l in verbs-json verbs-where verbs-raw verbs-grep; do
      case $l in
        verbs-json) c='`consume T -e -s json`' ;; verbs-where) c="\`consume T -e -s json --where '$verbs_where'\`" ;;
        verbs-raw) c='`consume T -e`' ;; verbs-grep) c="\`consume T -e --grep '$verbs_grep'\`" ;;
      esac
      printf '| %s | %s | %ss | %ss | %s MB |\n' "$l" "$c" "$(get $l streamctl 3)" "$(get $l streamctl 4)" "$(get $l streamctl 5)"
    done
    printf '| %s | %s | %ss | %ss | %s MB |\n' "verbs-offsets" '`offsets T -g G` (start, end, committed: 3 requests per leader plus metadata)' \
      "$(get verbs-offsets streamctl 3)" "$(get verbs-offsets streamctl 4)" "$(get verbs-offsets streamctl 5)"
    kw=$(get verbs-offsets kcat 3); kc=$(get verbs-offsets kcat 4); kr=$(get verbs-offsets kcat 5)
    printf '| %s | %s | %s | %s | %s |\n' "verbs-offsets kcat" '`kcat -Q -t T:0:-1 ... -t T:99:-1` (end offsets only)' \
      "${kw:+${kw}s}" "${kc:+${kc}s}" "${kr:+$kr MB}"
    echo
    w=$(ratio "$(get verbs-where streamctl 4)" "$(get verbs-json streamctl 4)")
    g=$(ratio "$(get verbs-grep streamctl 4)" "$(get verbs-raw streamctl 4)")
    o=$(ratio "$(get verbs-offsets streamctl 3)" "$kw")
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    echo "| \`--where\` on $n_small JSON messages: CPU ≤ 2x the same consume without it | $(x "$w") | $(verdict "$w" 2.0) |"
    echo "| \`--grep v:REGEX\` on the raw bytes: CPU ≤ 1.2x the same consume without it | $(x "$g") | $(verdict "$g" 1.2) |"
    echo "| \`offsets T -g G\` of 100 partitions: wall < 2x \`kcat -Q\` of the same partitions | $(x "$o") | $(verdict "$o" 1.999) |"
  } >"$verbs_table"
fi

# --- issue 13 targets table, non-group paths (branch speed) ---------------------
speed13_table=""
if [[ ${speed13:-0} == 1 ]]; then
  speed13_table=$work/speed13.md
  {
    echo "### Issue 13 targets ($( [[ $section == builtin ]] && echo "built-in broker" || echo "Apache Kafka"))"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, same run and broker as the table above; medians of $runs runs. CPU is user+sys of the client process, the steadier figure on a shared machine; wall is given too."
    echo
    echo "| case | streamctl wall | streamctl CPU | streamctl RSS |"
    echo "| --- | ---: | ---: | ---: |"
    printf '| `consume T -e` (%s JSON values of about 100 B) | %ss | %ss | %s MB |\n' "$n_json" "$(get consume-json-raw streamctl 3)" "$(get consume-json-raw streamctl 4)" "$(get consume-json-raw streamctl 5)"
    printf '| `consume T -e -s json` (the same topic) | %ss | %ss | %s MB |\n' "$(get consume-json-s streamctl 3)" "$(get consume-json-s streamctl 4)" "$(get consume-json-s streamctl 5)"
    printf '| `produce` %s x 100 B | %ss | %ss | %s MB |\n' "$n_big" "$(get produce-100B-3M streamctl 3)" "$(get produce-100B-3M streamctl 4)" "$(get produce-100B-3M streamctl 5)"
    echo
    echo "| target (issue 13) | measured | verdict |"
    echo "| --- | --- | --- |"
    echo "| group drain \`consume -g G -e\`: wall ≤ 0.5x \`kcat -C -e\` | filled from the group branch's figures | see below |"
    echo "| group drain: CPU ≤ 1.2x streamctl's non-group drain | filled from the group branch's figures | see below |"
    r=$(ratio "$(get consume-json-s streamctl 4)" "$(get consume-json-raw streamctl 4)")
    echo "| \`consume -s json -e\`: CPU ≤ 1.3x the raw drain of the same topic | $(x "$r") | $(verdict "$r" 1.3) |"
    w=$(ratio "$(get produce-10KB streamctl 3)" "$(get produce-10KB kcat 3)")
    echo "| produce $n_large x 10 KB: wall ≤ 0.8x kcat | $(x "$w") | $(verdict "$w" 0.8) |"
    w=$(ratio "$(get produce-100B streamctl 3)" "$(get produce-100B kcat 3)"); c=$(ratio "$(get produce-100B streamctl 4)" "$(get produce-100B kcat 4)")
    echo "| produce $n_small x 100 B: wall ≤ 0.8x kcat | $(x "$w") | $(verdict "$w" 0.8) |"
    echo "| produce $n_small x 100 B: CPU ≤ 0.7x kcat | $(x "$c") | $(verdict "$c" 0.7) |"
    a=$(get produce-100B-flat streamctl 5); b=$(get produce-100B streamctl 5); m=$(get produce-100B-3M streamctl 5)
    flat=$(awk -v a="$a" -v b="$b" -v c="$m" 'BEGIN { hi = a; if (b > hi) hi = b; if (c > hi) hi = c; lo = a; if (b < lo) lo = b; if (c < lo) lo = c
      print (hi < 64 && hi <= lo * 1.25 ? "met" : "**missed**") }')
    echo "| produce peak RSS < 64 MB and flat (within 25%) from 100k to 3M x 100 B | $n_flat: $a MB, $n_small: $b MB, $n_big: $m MB | $flat |"
    c=$(ratio "$(get consume-10KB streamctl 4)" "$(get consume-10KB kcat 4)")
    echo "| consume $n_large x 10 KB: CPU ≤ 1.0x kcat | $(x "$c") | $(verdict "$c" 1.0) |"
    t=$(ratio "$(get first-message streamctl 3)" "$(get first-message kcat 3)")
    echo "| time to first message ≤ 0.5x kcat (kept) | $(x "$t") | $(verdict "$t" 0.5) |"
    echo
    echo "(\`-J\` and \`-f\` ≤ 0.5x kcat are not re-measured by this block.)"
  } >"$speed13_table"
fi

micro=""
if [[ ${BENCH_MICRO:-} == 1 ]]; then
  say "go test -bench (BENCH_MICRO=1)"
  micro=$work/micro.md
  {
    echo "### Go micro-benchmarks"
    echo
    echo "\`go test -run '^\$' -bench . -benchmem ./codec ./internal/... ./produce ./consume\` ($(date -u '+%Y-%m-%d'), $go_version, $(nproc) CPUs, $cpu_model):"
    echo
    echo '```'
    (cd "$root" && go test -run '^$' -bench . -benchmem ./codec ./internal/... ./produce ./consume 2>&1) |
      grep -E '^(Benchmark|ok|FAIL|pkg:|---)' || true
    echo '```'
  } >"$micro"
fi

# --- group drain (issue 13): consume -g G -e vs the drain outside a group and kcat --
# scripts/bench-group.sh measures on the same broker (case "group").
group_table=""
if want group; then
  group_table=$work/group.md
  { echo "### Group drain ($( [[ $section == builtin ]] && echo "built-in broker" || echo "Apache Kafka"))"; echo
    BENCH_BROKER=$addr BENCH_RUNS=$runs BENCH_TMP=$tmp BENCH_GROUP_N=$n_small "$root/scripts/bench-group.sh" "$bin"
  } >"$group_table" || die "scripts/bench-group.sh failed"
fi

[[ -z $table ]] || cat "$table" >&2
[[ -z $avro_table ]] || cat "$avro_table" >&2
[[ -z $verbs_table ]] || cat "$verbs_table" >&2
[[ -z $speed13_table ]] || cat "$speed13_table" >&2
[[ -z $group_table ]] || cat "$group_table" >&2
if [[ $scale != 1 ]]; then
  say "BENCH_SMALL=1: not writing $out"
  exit 0
fi

# docs/BENCHMARKS.md is made of marked blocks; replace ours, keep the others
# (the other broker's table, the hand-written analysis).
block() { # name file: replace the block named name in $out with file's text
  local name=$1 file=$2
  if grep -qF "<!-- BEGIN $name -->" "$out"; then
    awk -v name="$name" -v f="$file" '
      BEGIN { while ((getline l < f) > 0) text = text l "\n" }
      $0 == "<!-- BEGIN " name " -->" { print; printf "%s", text; skip = 1; next }
      $0 == "<!-- END " name " -->" { skip = 0 }
      !skip { print }' "$out" >"$out.tmp" && mv "$out.tmp" "$out"
  else
    { echo; echo "<!-- BEGIN $name -->"; cat "$file"; echo "<!-- END $name -->"; } >>"$out"
  fi
}
if [[ ! -f $out ]]; then
  mkdir -p "$(dirname "$out")"
  cat >"$out" <<'EOF'
# Benchmarks: streamctl against kcat

Written by `make bench` (scripts/bench.sh). Sections between BEGIN/END markers
are replaced by the next run against the same broker; the rest is kept.
EOF
fi
[[ -z $table ]] || block "$section" "$table"
[[ -z $avro_table ]] || block "avro-$section" "$avro_table"
[[ -z $verbs_table ]] || block "verbs-$section" "$verbs_table"
[[ -z $micro ]] || block micro "$micro"
[[ -z $speed13_table ]] || block "speed13-$section" "$speed13_table"
[[ -z $group_table ]] || block "group-$section" "$group_table"
say "wrote $out"

# --- agents: consume --exec (issue 14) -----------------------------------------
# A line-mode agent answering "ok" per line over the 1M x 100 B topic, against
# a plain group drain of the same topic (the CPU target: at most 2x), and
# per-message --exec true over 10k x 100 B. CPU is streamctl's plus its
# commands' (/usr/bin/time counts reaped children). BENCH_AGENT=0 skips it;
# it reads the kcat block's 1M x 100 B topic, so it runs only with that block.
if [[ ${BENCH_AGENT:-1} != 0 ]] && want kcat; then
  # The cat-like agent: reads what comes and acknowledges each line, a chunk
  # at a time (a line-buffered agent costs one write per message).
  ack_agent=$work/ack_agent.py
  cat >"$ack_agent" <<'PY'
import os
while True:
    b = os.read(0, 1 << 16)
    if not b:
        break
    os.write(1, b"ok\n" * b.count(b"\n"))
PY
  # The interpreter itself, not a version manager's shim (pyenv's runs bash
  # scripts at each start, some 0.05 s of CPU): the agent is what it was.
  py=$(python3 -c 'import sys; print(sys.executable)')
  at=$(topic produce-100B-s1)
  check_count "$at" "$n_small" # a drain of an empty topic would measure nothing
  ae=$(topic agent-exec)
  create_topics "$ae"
  n_exec=$((10000 / scale))
  head -n "$n_exec" "$in_small" | "$bin" produce "$ae" -b "$addr" --acks all -q || die "producing the --exec topic failed"
  : >"$work/agent-results"
  results_main=$results
  results=$work/agent-results
  for i in $(seq 1 "$runs"); do
    measure agent-plain streamctl "$bin" consume "$at" -b "$addr" -g "$run_id-plain$i" -e
    measure agent-line streamctl "$bin" consume "$at" -b "$addr" -g "$run_id-line$i" -e --exec-mode line --exec "$py $ack_agent"
    measure agent-true streamctl "$bin" consume "$ae" -b "$addr" -g "$run_id-true$i" -e --exec true
    measure agent-true-c4 streamctl "$bin" consume "$ae" -b "$addr" -g "$run_id-true4$i" -e --exec true --concurrency 4
  done
  results=$results_main
  medians "$work/agent-results" 1 >"$work/agent-summary"
  aget() { awk -v l="$1" -v f="$2" '$1 == l { print $f }' "$work/agent-summary"; }
  agent_table=$work/agent.md
  {
    echo "### Agents: \`consume --exec\` ($( [[ $section == builtin ]] && echo "built-in broker" || echo "Apache Kafka"))"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(awk '{print $1, $2, $3}' /proc/loadavg); medians of $runs runs; CPU is streamctl's plus its commands'."
    echo
    echo "| case | command | messages | wall | msg/s | CPU | RSS |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    for l in agent-plain agent-line agent-true agent-true-c4; do
      case $l in
        agent-plain) c='`consume T -g G -e`'; m=$n_small ;;
        agent-line) c='`consume T -g G -e --exec-mode line --exec "python3 ack_agent.py"`'; m=$n_small ;;
        agent-true) c='`consume T -g G -e --exec true`'; m=$n_exec ;;
        agent-true-c4) c='`consume T -g G -e --exec true --concurrency 4`'; m=$n_exec ;;
      esac
      w=$(aget $l 2)
      printf '| %s | %s | %s | %ss | %s | %ss | %s MB |\n' "$l" "$c" "$m" "$w" "$(awk -v m="$m" -v w="$w" 'BEGIN { printf "%.0f", m / w }')" "$(aget $l 3)" "$(aget $l 4)"
    done
    echo
    r=$(ratio "$(aget agent-line 3)" "$(aget agent-plain 3)")
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    echo "| line mode CPU ≤ 2x a plain group drain of the same messages | $(x "$r") | $(verdict "$r" 2.0) |"
  } >"$agent_table"
  cat "$agent_table" >&2
  block "agent-$section" "$agent_table"
  say "wrote the agent block of $out"
fi

# --- start-up (issue 13, branch startup) -----------------------------------------
# What a short-lived run pays before it does anything: process start alone
# (streamctl --version against kcat -V) and time to first message on a small
# topic (10k x 100 B, so that the broker's fetch is small too), streamctl and
# kcat alternating, BENCH_STARTUP_RUNS (11) runs each. Case "startup".
if want startup && [[ -n $kcat ]]; then
  su_runs=${BENCH_STARTUP_RUNS:-11}
  su=$(topic startup)
  create_topics "$su"
  head -n $((10000 / scale)) "$in_small" | "$bin" produce "$su" -b "$addr" --acks all -q || die "producing the start-up topic failed"
  : >"$work/startup-results"
  results_main=$results
  results=$work/startup-results
  for i in $(seq 1 "$su_runs"); do
    for first in $( ((i % 2)) && echo "s k" || echo "k s"); do
      if [[ $first == s ]]; then
        measure startup-version streamctl "$bin" --version
        measure startup-ttfm streamctl "$bin" consume "$su" -b "$addr" -n 1
      else
        measure startup-version kcat "$kcat" -V
        measure startup-ttfm kcat "$kcat" -b "$addr" -C -t "$su" -c 1 -o beginning -q
      fi
    done
  done
  results=$results_main
  medians "$work/startup-results" 2 >"$work/startup-summary"
  sget() { awk -v l="$1" -v t="$2" -v f="$3" '$1 == l && $2 == t { print $f }' "$work/startup-summary"; }
  startup_table=$work/startup.md
  {
    echo "### Start-up ($( [[ $section == builtin ]] && echo "built-in broker" || echo "Apache Kafka"))"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(awk '{print $1, $2, $3}' /proc/loadavg); medians of $su_runs runs, streamctl and kcat alternating; CPU is user+sys as /usr/bin/time counts it (10 ms steps)."
    echo
    echo "| case | streamctl command | kcat command | streamctl wall | kcat wall | ratio | streamctl CPU | kcat CPU | streamctl RSS | kcat RSS |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for l in startup-version startup-ttfm; do
      case $l in
        startup-version) c='`streamctl --version`'; k='`kcat -V`' ;;
        startup-ttfm) c='`streamctl consume T -b B -n 1`'; k='`kcat -b B -C -t T -c 1 -o beginning -q`' ;;
      esac
      printf '| %s | %s | %s | %ss | %ss | %s | %ss | %ss | %s MB | %s MB |\n' "$l" "$c" "$k" "$(sget $l streamctl 3)" "$(sget $l kcat 3)" \
        "$(ratio "$(sget $l streamctl 3)" "$(sget $l kcat 3)")" "$(sget $l streamctl 4)" "$(sget $l kcat 4)" "$(sget $l streamctl 5)" "$(sget $l kcat 5)"
    done
    echo
    t=$(ratio "$(sget startup-ttfm streamctl 3)" "$(sget startup-ttfm kcat 3)")
    echo "| target | measured | verdict |"
    echo "| --- | --- | --- |"
    echo "| time to first message (small topic) ≤ 0.5x kcat | $(x "$t") | $(verdict "$t" 0.5) |"
  } >"$startup_table"
  cat "$startup_table" >&2
  block "startup-$section" "$startup_table"
  say "wrote the start-up block of $out"
fi
