#!/usr/bin/env bash
# Installs what building and testing need, only when missing or at the wrong
# version: the wasm32 target, trunk, the wasm-bindgen-cli that matches
# Cargo.lock, Debian's Chromium (for e2e) and the e2e npm packages (which
# include binaryen's wasm-opt; Debian's binaryen breaks the wasm output).
# Usage: scripts/ensure-tools.sh [--no-browser]
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION=0.21.14
want_browser=1
[ "${1:-}" = "--no-browser" ] && want_browser=0

say() { printf '==> %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for comp in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$comp"; then
    say "adding rustup component $comp"
    rustup component add "$comp"
  fi
done

if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION\$"; then
  # Trunk 0.22 needs a newer rustc than these machines have.
  say "installing trunk $TRUNK_VERSION (about 9 minutes the first time)"
  cargo install trunk --locked --version "$TRUNK_VERSION"
fi

wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wbg" ]; then
  echo "error: cannot find the wasm-bindgen version in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
  # --locked fails for this version on the registry mirror; without it builds.
  say "installing wasm-bindgen-cli $wbg (matches Cargo.lock)"
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

if ! command -v npm >/dev/null; then
  echo "error: npm is missing; install Node.js 20 (apt-get install -y nodejs npm)" >&2
  exit 1
fi
stamp=e2e/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || ! cmp -s e2e/package-lock.json "e2e/node_modules/.lock-copy"; then
  say "installing e2e npm packages (npm ci)"
  (cd e2e && npm ci --no-audit --no-fund)
  cp e2e/package-lock.json e2e/node_modules/.lock-copy
fi

if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
fi

# e2e/seed.ts writes the render-time data straight into the e2e server's
# SQLite database with the sqlite3 shell.
if [ "$want_browser" = 1 ] && ! command -v sqlite3 >/dev/null; then
  say "installing sqlite3 (the e2e render-time seed)"
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3
  fi
fi

# The e-mail notification tests run a real SMTP server (aiosmtpd): from
# PyPI with pip, or Debian's package where pip refuses (system Python).
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  say "installing aiosmtpd (SMTP server for the notification tests)"
  if ! python3 -m pip install --quiet aiosmtpd 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiosmtpd
    else
      sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiosmtpd
    fi
  fi
fi

# Schemathesis (PyPI) fuzzes the API from its OpenAPI document (make
# fuzz-api-quick, make fuzz): a pinned version in a venv of its own under
# ~/.cache, so the system Python stays untouched and reruns skip it.
SCHEMATHESIS_VERSION=4.32.5
st_venv="${SCHEMATHESIS_VENV:-$HOME/.cache/messaging-tools/schemathesis-$SCHEMATHESIS_VERSION}"
if ! "$st_venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION (API fuzzing) into $st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# nginx for the test that proxies two instances (backend/tests/api/nginx.rs).
# Only the binary is wanted: policy-rc.d keeps the package from starting a
# system nginx on port 80.
if [ ! -x /usr/sbin/nginx ]; then
  say "installing Debian's nginx-light (the nginx integration test)"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod +x "$policy"
    made_policy=1
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light
  [ "$made_policy" = 0 ] || "${sudo_cmd[@]}" rm -f "$policy"
fi
