#!/usr/bin/env bash
# The test command: sets the machine up if needed, runs every test (unit tests, then the lab's
# integration tests on real dockerd, sshd and kernel), and ends with one line
# "N passed, N failed, N skipped" counting them all.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

mkdir -p .test-results
rm -f .test-results/vitest.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@"
rc=$?
node scripts/test-summary.mjs .test-results/vitest.json || rc=1
exit "$rc"
