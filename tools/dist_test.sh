#!/usr/bin/env bash
# Evaluation split over processes: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args].
# Launch settings (several machines, interpreter): see tools/dist_launch.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [tools/test.py options]" >&2
    exit 2
fi
exec "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh" "$3" test.py "$1" "$2" --launcher pytorch \
    "${@:4}"
