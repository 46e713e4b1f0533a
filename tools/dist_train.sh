#!/usr/bin/env bash
# Data-parallel training on one machine: tools/dist_train.sh CONFIG NUM_PROCS [train.py args].
# One process per GPU (nccl), or per CPU process group member (gloo) on a machine without a GPU.
# Set NNODES, NODE_RANK, MASTER_ADDR and PORT for several machines, PYTHON for another
# interpreter (default: the project's .venv).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCS [tools/train.py options, e.g. --work-dir DIR --resume]" >&2
    exit 2
fi
CONFIG=$1
NUM_PROCS=$2
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
    "$root/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
