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

mkdir -p "$REGISTRY_HOME_DIR"
# Serialise concurrent fetches on one lock.
exec 9>"$REGISTRY_HOME_DIR/.fetch.lock"
flock 9
if app_ready; then
  echo "$REGISTRY_APP"
  exit 0
fi

tmp=$(mktemp -d "$REGISTRY_HOME_DIR/app.tmp.XXXXXX")
chmod 755 "$tmp"
log=$REGISTRY_HOME_DIR/fetch.log
trap 'rm -rf "$tmp"' EXIT
echo "streamctl-registry: fetching $REGISTRY_ARTIFACT (109 MB) from Maven Central" >&2
if ! mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$REGISTRY_ARTIFACT" \
  -DoutputDirectory="$tmp/dist" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "maven could not fetch $REGISTRY_ARTIFACT (full log: $log)"
fi
tarball=$(find "$tmp/dist" -name '*.tar.gz' -print -quit)
[[ -n $tarball ]] || die "maven finished but no tar.gz is in $tmp/dist (log: $log)"
tar -xzf "$tarball" -C "$tmp" || die "unpacking $tarball failed"
rm -rf "$tmp/dist"
REGISTRY_APP=$tmp runner_jar >/dev/null || die "no apicurio-registry-app-*-runner.jar in $tarball"
echo "$REGISTRY_VERSION" >"$tmp/.complete"
rm -rf "$REGISTRY_APP"
mv "$tmp" "$REGISTRY_APP"
trap - EXIT
echo "$REGISTRY_APP"
