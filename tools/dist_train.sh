#!/usr/bin/env bash
# Data-parallel training: tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py options].
# Launch settings (several machines, interpreter): see tools/dist_launch.sh.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [tools/train.py options, e.g. --work-dir DIR --resume]" >&2
    exit 2
fi
exec "$(dirname "${BASH_SOURCE[0]}")/dist_launch.sh" "$2" train.py "$1" --launcher pytorch "${@:3}"
