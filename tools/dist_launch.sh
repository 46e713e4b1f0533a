#!/usr/bin/env bash
# Start NUM_PROCS processes of a clade-mm tool with torchrun (what dist_train.sh and
# dist_test.sh run): tools/dist_launch.sh NUM_PROCS TOOL [TOOL's arguments].
# One process per GPU (nccl), or CPU processes joined with gloo on a machine without a GPU.
# Set NNODES, NODE_RANK, MASTER_ADDR and PORT for several machines, PYTHON for another
# interpreter (default: the project's .venv).
set -euo pipefail
NUM_PROCS=$1
TOOL=$2
shift 2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
default_python="$root/.venv/bin/python"
[ -x "$default_python" ] || default_python=python

PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-$default_python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NUM_PROCS" "$root/tools/$TOOL" "$@"
