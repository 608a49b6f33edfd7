# shellcheck shell=bash
# What the scripts that run test servers (kafka/, registry/) share. Sourced,
# not executed; the sourcing script sets LOG_NAME, the prefix of its messages.

die() {
  echo "${LOG_NAME:-streamctl}: error: $*" >&2
  exit 1
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open_at() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# stop_pid PID TIMEOUT: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL;
# returns once PID is gone.
stop_pid() {
  local deadline=$((SECONDS + $2))
  kill -TERM "$1" 2>/dev/null || true
  while kill -0 "$1" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$1" 2>/dev/null; then
    echo "${LOG_NAME:-streamctl}: process $1 ignored SIGTERM for ${2}s; killing it" >&2
    kill -KILL "$1" 2>/dev/null || true
    while kill -0 "$1" 2>/dev/null; do sleep 0.1; done
  fi
}

# remove_state DIR: remove a server's state dir, refusing the obvious mistakes.
remove_state() {
  case $1 in
    "" | / | "$HOME") die "refusing to remove state dir '$1'" ;;
  esac
  rm -rf "$1"
}

# fetched DEST VERSION: true if fetch_into completed DEST for VERSION.
fetched() {
  [[ -f $1/.complete ]] && [[ $(cat "$1/.complete") == "$2" ]]
}

# fetch_into DEST VERSION FILL: unless DEST already holds VERSION, run
# FILL TMP LOG (TMP a fresh dir beside DEST, LOG the fetch log) under a lock,
# so that parallel jobs fetch once, then mark TMP complete and move it to
# DEST. Prints DEST. A second run does not start Maven.
fetch_into() {
  local dest=$1 version=$2 fill=$3 home
  home=$(dirname "$dest")
  if fetched "$dest" "$version"; then
    echo "$dest"
    return
  fi
  mkdir -p "$home"
  exec 9>"$home/.fetch.lock"
  flock 9
  if fetched "$dest" "$version"; then
    echo "$dest"
    return
  fi
  FETCH_TMP=$(mktemp -d "$dest.tmp.XXXXXX")
  chmod 755 "$FETCH_TMP"
  trap 'rm -rf "$FETCH_TMP"' EXIT
  "$fill" "$FETCH_TMP" "$home/fetch.log"
  echo "$version" >"$FETCH_TMP/.complete"
  rm -rf "$dest"
  mv "$FETCH_TMP" "$dest"
  trap - EXIT
  echo "$dest"
}
