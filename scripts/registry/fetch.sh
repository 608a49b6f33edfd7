#!/usr/bin/env bash
# Fetch Apicurio Registry (the Quarkus app distribution) from Maven Central,
# unpack it into ${STREAMCTL_REGISTRY_HOME:-$HOME/.cache/streamctl/apicurio-<version>}/app
# and print that directory. Cached: a second run does not start Maven.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if app_ready; then
  echo "$REGISTRY_APP"
  exit 0
fi
command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
command -v tar >/dev/null || die "tar not found"

# fill TMP LOG: the app distribution, unpacked.
fill() {
  echo "streamctl-registry: fetching $REGISTRY_ARTIFACT (109 MB) from Maven Central" >&2
  if ! mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$REGISTRY_ARTIFACT" \
    -DoutputDirectory="$1/dist" >"$2" 2>&1; then
    tail -n 40 "$2" >&2
    die "maven could not fetch $REGISTRY_ARTIFACT (full log: $2)"
  fi
  local tarball
  tarball=$(find "$1/dist" -name '*.tar.gz' -print -quit)
  [[ -n $tarball ]] || die "maven finished but no tar.gz is in $1/dist (log: $2)"
  tar -xzf "$tarball" -C "$1" || die "unpacking $tarball failed"
  rm -rf "$1/dist"
  REGISTRY_APP=$1 runner_jar >/dev/null || die "no apicurio-registry-app-*-runner.jar in $tarball"
}
fetch_into "$REGISTRY_APP" "$REGISTRY_VERSION" fill
