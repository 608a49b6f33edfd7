#!/usr/bin/env bash
# End-to-end check of a running test broker (start.sh first): keyed produce and
# consume on every listener and auth mechanism, mTLS refuses a client without a
# certificate, topics are not auto-created. Prints "N passed, N failed".
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[[ -f $KAFKA_STATE/env ]] || die "no broker env at $KAFKA_STATE/env (run scripts/kafka/start.sh)"
# shellcheck disable=SC1091
source "$KAFKA_STATE/env"
T=$KAFKA_SCRIPTS_DIR/tool.sh
topic=smoke-$$-$RANDOM
passed=0 failed=0
check() { # check NAME CMD...
  local name=$1
  shift
  if "$@" >"$KAFKA_STATE/logs/smoke.out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
    tail -n 15 "$KAFKA_STATE/logs/smoke.out" >&2
  fi
}
consume() { # consume BOOTSTRAP CONFIG
  local out
  out=$(timeout 60 "$T" console-consumer --bootstrap-server "$1" --command-config "$2" --topic "$topic" \
    --from-beginning --max-messages 3 --formatter-property print.key=true --formatter-property key.separator=:)
  [[ $out == $'k1:v1\nk2:v2\nk3:v3' ]] || { echo "unexpected output: $out"; return 1; }
}
produce() {
  printf 'k1:v1\nk2:v2\nk3:v3\n' | timeout 60 "$T" console-producer --bootstrap-server "$STREAMCTL_TEST_KAFKA" \
    --topic "$topic" --reader-property parse.key=true --reader-property key.separator=:
}
refused() { # refused CMD...: the command must fail
  ! "$@"
}
no_autocreate() {
  echo x | timeout 60 "$T" console-producer --bootstrap-server "$STREAMCTL_TEST_KAFKA" --topic "$topic-absent" \
    --command-property max.block.ms=2000 2>&1 | grep -q "not present in metadata" &&
    ! "$T" topics --bootstrap-server "$STREAMCTL_TEST_KAFKA" --list | grep -qx "$topic-absent"
}
empty=$KAFKA_STATE/client-plaintext.properties
: >"$empty"

check "create topic" "$T" topics --bootstrap-server "$STREAMCTL_TEST_KAFKA" --create --topic "$topic"
check "produce PLAINTEXT" produce
check "consume PLAINTEXT" consume "$STREAMCTL_TEST_KAFKA" "$empty"
check "consume SASL PLAIN" consume "$STREAMCTL_TEST_KAFKA_SASL" "$KAFKA_STATE/client-sasl-plain.properties"
check "consume SCRAM-SHA-256" consume "$STREAMCTL_TEST_KAFKA_SASL" "$KAFKA_STATE/client-scram-sha-256.properties"
check "consume SCRAM-SHA-512" consume "$STREAMCTL_TEST_KAFKA_SASL" "$KAFKA_STATE/client-scram-sha-512.properties"
check "consume SSL" consume "$STREAMCTL_TEST_KAFKA_SSL" "$KAFKA_STATE/client-ssl.properties"
check "consume mTLS" consume "$STREAMCTL_TEST_KAFKA_MTLS" "$KAFKA_STATE/client-mtls.properties"
check "mTLS without client cert refused" refused consume "$STREAMCTL_TEST_KAFKA_MTLS" "$KAFKA_STATE/client-ssl.properties"
check "TLS verifies against CA (openssl)" bash -c "openssl s_client -connect '$STREAMCTL_TEST_KAFKA_SSL' -CAfile '$STREAMCTL_TEST_KAFKA_CA' -verify_ip 127.0.0.1 -verify_return_error </dev/null 2>&1 | grep -q 'Verify return code: 0 (ok)'"
check "no topic auto-creation" no_autocreate
check "delete topic" "$T" topics --bootstrap-server "$STREAMCTL_TEST_KAFKA" --delete --topic "$topic"
rm -f "$empty"
echo "$passed passed, $failed failed"
((failed == 0))
