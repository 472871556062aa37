#!/usr/bin/env bash
# Fuzzes the HTTP API with Schemathesis from its own OpenAPI document
# (/api/openapi.json): every check (no 5xx, responses conform to their
# schema, status codes and content types documented, invalid input refused,
# valid input accepted, auth not ignored).
#
# It starts the real `messaging serve` (the debug build, or MESSAGING_BIN)
# on a fresh PostgreSQL database of its own (msgfuzz_<pid>, dropped at the
# end) and seeds it through the API so that paths with ids hit real rows:
# the fuzzing user "Fuzz" owns group 1 (with Anna and Jan) and has the 1:1
# conversation 2 with Anna; messages 1..8 (one of Anna's, one with an
# attachment), a reaction, a pin. Requests carry Fuzz's API token.
#
# Usage: scripts/fuzz-api.sh [--quick|--long]
#   --quick  bounded and reproducible (fixed seed, deterministic generation,
#            few examples per operation; about 2 minutes): part of make test
#   --long   random seed, many examples, the stateful phase, for FUZZ_SECONDS
#            (default 600; make fuzz)
# Extra Schemathesis flags may follow, e.g. --include-operation-id messages_send.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=quick
case "${1:-}" in
  --quick) mode=quick; shift ;;
  --long) mode=long; shift ;;
esac

SCHEMATHESIS_VERSION=$(awk -F= '/^SCHEMATHESIS_VERSION=/ { print $2; exit }' scripts/ensure-tools.sh)
st="${SCHEMATHESIS_VENV:-$HOME/.cache/messaging-tools/schemathesis-$SCHEMATHESIS_VERSION}/bin/schemathesis"
if [ ! -x "$st" ]; then
  echo "error: schemathesis is missing; run scripts/ensure-tools.sh" >&2
  exit 1
fi
bin="${MESSAGING_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/messaging-target}/debug/messaging}"
if [ ! -x "$bin" ]; then
  echo "error: $bin is missing; build it with cargo build -p backend" >&2
  exit 1
fi

pg_admin="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="msgfuzz_$$"
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# Databases of earlier runs that were killed (their process is gone).
for old in $(psql -At "$pg_admin" -c "SELECT datname FROM pg_database WHERE datname LIKE 'msgfuzz\_%'"); do
  [ -d "/proc/${old#msgfuzz_}" ] || psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS \"$old\" WITH (FORCE)" >/dev/null
done
psql -q "$pg_admin" -c "CREATE DATABASE \"$db\"" >/dev/null
export DATABASE_URL="${pg_admin%/*}/$db"
export DATA_DIR="$work/data" LOG_LEVEL="${LOG_LEVEL:-warn}"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Previews would fetch the fuzzer's URLs from the internet; the mail worker
# has nothing to do here.
"$bin" serve --bind "127.0.0.1:$port" --public-url "$base" --static-dir "$work/dist" \
  --link-previews off --mail-poll-interval-ms 600000 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

for who in fuzz:Fuzz anna:Anna jan:Jan; do
  echo "haslo-do-fuzzingu-1" | "$bin" user add --email "${who%%:*}@firma.pl" --name "${who#*:}" \
    --password-stdin >/dev/null
done
token=$("$bin" token create --email fuzz@firma.pl --name schemathesis 2>/dev/null)
anna=$("$bin" token create --email anna@firma.pl --name seed 2>/dev/null)
id_of() { psql -At "$DATABASE_URL" -c "SELECT id FROM users WHERE email = '$1'"; }
anna_id=$(id_of anna@firma.pl)
jan_id=$(id_of jan@firma.pl)
api() { # api TOKEN METHOD PATH [JSON]
  curl -fsS -X "$2" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    ${4:+-d "$4"} "$base$3" >/dev/null
}
api "$token" POST /api/conversations "{\"member_ids\":[$anna_id,$jan_id],\"name\":\"Zarząd\"}"
api "$token" POST /api/conversations "{\"member_ids\":[$anna_id]}"
for i in 1 2 3 4 5; do
  api "$token" POST /api/conversations/1/messages "{\"content\":\"Wiadomość **$i** https://example.com\"}"
done
api "$anna" POST /api/conversations/1/messages '{"content":"Od Anny"}'
api "$token" POST /api/conversations/2/messages '{"content":"Cześć Anno"}'
printf 'zalacznik\n' >"$work/notatka.txt"
curl -fsS -H "Authorization: Bearer $token" -F "file=@$work/notatka.txt" "$base/api/attachments" >/dev/null
api "$token" POST /api/conversations/1/messages '{"content":"z plikiem","attachment_ids":[1]}'
api "$token" POST /api/messages/1/reactions '{"emoji":"👍"}'
api "$token" POST /api/messages/2/pin

export FUZZ_TOKEN="$token"
common=(
  "$base/api/openapi.json"
  --checks all
  # The event stream never ends by design (SSE); its behaviour is covered
  # by tests/api/stream.rs and sse.rs.
  --exclude-operation-id stream_events
  --request-timeout 10
  --workers 1
  --no-color
  --report junit --report-dir "${FUZZ_REPORT_DIR:-$work/report}"
)
if [ "$mode" = quick ]; then
  args=(--seed 20261128 --generation-deterministic --max-examples 15
        --phases examples,coverage,fuzzing)
else
  # Fuzzing and the stateful phase repeat until the time is spent.
  args=(--max-examples 200 --phases examples,coverage,fuzzing,stateful
        --max-time "${FUZZ_SECONDS:-600}")
fi
status=0
config="$PWD/scripts/schemathesis.toml"
# From the scratch directory: Schemathesis keeps a cache where it runs.
(cd "$work" && "$st" --config-file "$config" run "${common[@]}" "${args[@]}" "$@") || status=$?
if [ "$status" != 0 ]; then
  echo "---- server log (last 40 lines) ----" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit "$status"
