#!/usr/bin/env bash
# Evaluation split over processes: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args].
# As tools/dist_train.sh: one process per GPU, or CPU processes joined with gloo without a GPU.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCS [tools/test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NUM_PROCS=$3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
default_python="$root/.venv/bin/python"
[ -x "$default_python" ] || default_python=python
PYTHON=${PYTHON:-$default_python}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}

PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NUM_PROCS" --master_port="$PORT" \
    "$root/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
