#!/usr/bin/env bash
# `make bench-import`: generates an old portal database with 1,000,000
# messages in PostgreSQL (set-based SQL, about a minute), imports it with the
# release binary into a fresh PostgreSQL database and prints the wall time
# and the peak memory (/usr/bin/time -v). Both databases are dropped at the
# end, also when it fails. Target: <= 5 minutes, <= 500 MB.
# Env: TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
#      BENCH_PM (private messages, default 900000), BENCH_GM (group messages,
#      default 100000), BENCH_USERS (default 5000), MESSAGING_BIN (a binary
#      to time instead of building the release one).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BASE_URL=${ADMIN_URL%/*}
PM=${BENCH_PM:-900000}
GM=${BENCH_GM:-100000}
USERS=${BENCH_USERS:-5000}
SRC=msgbench_legacy_src_$$
DST=msgbench_legacy_dst_$$
WORK=$(mktemp -d)
TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/messaging-target}
BIN=${MESSAGING_BIN:-$TARGET_DIR/release/messaging}

cleanup() {
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $SRC WITH (FORCE)" >/dev/null 2>&1 || true
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DST WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -n "${MESSAGING_BIN:-}" ] || cargo build --release -p backend >&2

echo "==> generating the old portal: $USERS users, $PM private + $GM group messages"
t0=$(date +%s)
psql -q "$ADMIN_URL" -c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST"
psql -q -v ON_ERROR_STOP=1 "$BASE_URL/$SRC" -f backend/tests/fixtures/legacy_schema.sql
psql -q -v ON_ERROR_STOP=1 "$BASE_URL/$SRC" <<SQL
INSERT INTO users (id, email, name, is_active, notify_email_messages, password_hash, created_at)
SELECT i, 'user' || i || '@portal.pl', 'Członek ' || i, i % 50 <> 0, true, NULL,
       timestamptz '2020-01-01' + i * interval '1 minute'
FROM generate_series(1, $USERS) i;

-- Each user writes to ~8 regular partners: about 20,000 pairs; both
-- directions; 10 % unread; every fifth message replies to the one before.
INSERT INTO private_messages (id, sender_id, recipient_id, subject, content, parent_id, is_read, read_at, created_at)
SELECT i, s, r,
       CASE WHEN i % 10 = 0 THEN 'Temat ' || i END,
       '<p>Wiadomość <b>' || i || '</b> w sprawie <a href="https://portal.pl/wydarzenia/' || (i % 977)
         || '">wydarzenia</a>.<br>Pozdrawiam, <i>członek ' || s || '</i></p>'
         || CASE WHEN i % 7 = 0 THEN '<ul><li>punkt pierwszy</li><li>punkt drugi</li></ul>' ELSE '' END,
       CASE WHEN i % 5 = 0 AND i > 1 THEN i - 1 END,
       i % 10 <> 3,
       CASE WHEN i % 10 <> 3 THEN timestamptz '2022-01-01' + i * interval '30 seconds' + interval '1 hour' END,
       timestamptz '2022-01-01' + i * interval '30 seconds'
FROM (
  SELECT i,
         1 + (i::bigint * 7919) % $USERS AS s,
         1 + ((i::bigint * 7919) % $USERS + 1 + (i / 3) % 8 * 97) % $USERS AS r
  FROM generate_series(1, $PM) i
) t;

-- 200 groups of 10-40 members; group messages spread over them.
INSERT INTO message_group (id, name, description, owner_id, created_at)
SELECT g, 'Grupa ' || g, 'Opis grupy ' || g, 1 + (g * 37) % $USERS, timestamptz '2021-06-01' + g * interval '1 hour'
FROM generate_series(1, 200) g;
INSERT INTO message_group_member (group_id, user_id, role, last_read_at, joined_at, added_by_id)
SELECT DISTINCT ON (g, u) g, u, CASE WHEN k = 0 THEN 'owner' ELSE 'member' END,
       CASE WHEN k % 4 <> 0 THEN timestamptz '2022-01-01' + (k * 1000) * interval '1 minute' END,
       timestamptz '2021-06-01' + g * interval '1 hour' + k * interval '1 minute',
       1 + (g * 37) % $USERS
FROM (SELECT g, k, 1 + (g * 37 + k * 131) % $USERS AS u
      FROM generate_series(1, 200) g, generate_series(0, 9 + g % 31) k) t
ORDER BY g, u, k;
INSERT INTO group_message (id, group_id, sender_id, content, created_at)
SELECT i, g, 1 + (g * 37 + (i % 10) * 131) % $USERS,
       '<p>Ogłoszenie <strong>' || i || '</strong> dla grupy</p>',
       timestamptz '2022-01-01' + i * interval '4 minutes'
FROM (SELECT i, 1 + i % 200 AS g FROM generate_series(1, $GM) i) t;

INSERT INTO message_attachments (id, message_id, group_message_id, filename, stored_filename, mime_type, file_size, created_at)
SELECT a, 1 + (a * 179) % $PM, NULL, 'plik-' || a || '.txt', 'f/' || a || '.txt', 'text/plain', 12,
       timestamptz '2022-01-01' + a * interval '90 minutes'
FROM generate_series(1, 5000) a;

SELECT setval('users_id_seq', $USERS);
SELECT setval('private_messages_id_seq', $PM);
SELECT setval('group_message_id_seq', $GM);
ANALYZE;
SQL
mkdir -p "$WORK/files/f"
(cd "$WORK/files/f" && seq 1 5000 | awk '{ f = $1 ".txt"; print "plik " $1 > f; close(f) }')
t1=$(date +%s)
echo "==> generated in $((t1 - t0)) s"

echo "==> importing (release build, batches of 1000) into a fresh PostgreSQL database"
set +e
/usr/bin/time -v -o "$WORK/time.txt" "$BIN" import-legacy \
  --source "$BASE_URL/$SRC" --files-dir "$WORK/files" \
  --database-url "$BASE_URL/$DST" --data-dir "$WORK/data" > "$WORK/out.txt" 2> "$WORK/err.txt"
status=$?
set -e
cat "$WORK/out.txt"
tail -n 5 "$WORK/err.txt" >&2
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$WORK/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
cpu_user=$(awk -F': ' '/User time/ { print $2 }' "$WORK/time.txt")
cpu_sys=$(awk -F': ' '/System time/ { print $2 }' "$WORK/time.txt")
echo "==> import-legacy: exit $status, wall $wall (target <= 5:00), peak RSS $((rss_kb / 1024)) MB (target <= 500 MB), CPU user ${cpu_user}s sys ${cpu_sys}s"
echo "    machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
