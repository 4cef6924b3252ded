#!/usr/bin/env bash
# Entry point of `make bench`: installs wrk if missing, then runs the Python driver (bench/run.py), the dispatcher
# benchmark and the clinic dashboard's (bench/clinic.py). A benchmark never fails a build, so this always exits 0.
# `bash bench/run.sh clinic` runs the clinic one alone (it needs no wrk); other names go to the driver.
set -u
cd "$(dirname "$0")/.."

python=".venv/bin/python"
if [ ! -x "$python" ]; then
    echo "bench: $python not found; create the virtualenv first (pip install -e '.[dev]'); nothing measured"
    exit 0
fi

rest=()
clinic=0
for name in "$@"; do
    if [ "$name" = "clinic" ]; then clinic=1; else rest+=("$name"); fi
done

if [ $# -eq 0 ] || [ ${#rest[@]} -gt 0 ]; then
    if ! command -v wrk >/dev/null 2>&1; then
        echo "bench: wrk is missing; installing it from Debian's packages"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null; then
            echo "bench: could not install wrk (apt-get failed; root needed); nothing measured"
            exit 0
        fi
    fi
    "$python" -m bench.run "${rest[@]}" || echo "bench: the driver exited with status $? (ignored)"
    # the dispatcher's own benchmark runs with everything, or when named (`bash bench/run.sh reports` runs that alone)
    if [ $# -eq 0 ] || printf '%s\n' "${rest[@]}" | grep -qx dispatcher; then
        "$python" -m bench.dispatcher || echo "bench: the dispatcher benchmark exited with status $? (ignored)"
    fi
fi
if [ $# -eq 0 ] || [ $clinic -eq 1 ]; then
    echo "bench: the clinic dashboard's participant page (bench/clinic.py)"
    "$python" -m bench.clinic || echo "bench: the clinic benchmark exited with status $? (ignored)"
fi
exit 0
