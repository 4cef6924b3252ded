#!/usr/bin/env bash
# Entry point of `make bench`: installs wrk if missing, then runs the Python driver (bench/run.py).
# A benchmark never fails a build, so this script always exits 0.
set -u
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: wrk is missing; installing it from Debian's packages"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null; then
        echo "bench: could not install wrk (apt-get failed; root needed); nothing measured"
        exit 0
    fi
fi

python=".venv/bin/python"
if [ ! -x "$python" ]; then
    echo "bench: $python not found; create the virtualenv first (pip install -e '.[dev]'); nothing measured"
    exit 0
fi

"$python" -m bench.run "$@" || echo "bench: the driver exited with status $? (ignored)"
# the dispatcher's own benchmark runs with everything, or when named (`bash bench/run.sh reports` runs that alone)
if [ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx dispatcher; then
    "$python" -m bench.dispatcher || echo "bench: the dispatcher benchmark exited with status $? (ignored)"
fi
exit 0
