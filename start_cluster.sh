#!/usr/bin/env sh
# Starts the local 3-node meshchat cluster (the same as `deno task cluster`).
# Installs the pinned Deno from npm first when it is missing.
set -eu
cd "$(dirname "$0")"
if ! command -v deno >/dev/null 2>&1; then
  echo "start_cluster.sh: deno not found; installing deno@2.9.6 from npm" >&2
  npm install -g deno@2.9.6 >/dev/null
fi
exec deno task cluster "$@"
