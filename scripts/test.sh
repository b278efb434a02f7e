#!/usr/bin/env bash
# Installs what the tests need and runs them: the README's second command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
python3 -m pip install -q -r requirements-dev.txt

echo "== ruff (style, bugs, bandit security rules)"
python3 -m ruff check .
echo "== pytest"
if [ $# -gt 0 ]; then  # the tests named, as named
  exec python3 -m pytest -q "$@"
fi
# Most tests wait on something (a browser, a server, a worker process): two at a time (pytest-xdist; loadfile keeps
# a module on one worker, so a browser module starts its server once) they took 811 s on two cores, and the tests
# marked `alone` 120 s after them, where all one at a time took 1,604 s (worksteal: 1,162 s for the first part).
# The `alone` tests measure timing with many sessions at once, so they run on their own. The slowest are listed at
# the end: keep the whole under ~25 minutes.
python3 -m pytest -q -n 2 --dist loadfile -m "not alone" --durations=12
python3 -m pytest -q -m alone
