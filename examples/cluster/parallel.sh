#!/usr/bin/env bash
# A sharded tp sweep on one or a few machines with GNU parallel (add
# `--sshloginfile HOSTS` to parallel to spread the shards over hosts that share the
# directory): M shards, then merge and check.
#
#   examples/cluster/parallel.sh programs/mlp_mup.tp sweep/ 8
set -euo pipefail

program=${1:?usage: parallel.sh PROGRAM.tp OUTDIR M}
outdir=${2:?usage: parallel.sh PROGRAM.tp OUTDIR M}
count=${3:?usage: parallel.sh PROGRAM.tp OUTDIR M}
tp=${TP:-tp}
mkdir -p "$outdir"

# shellcheck disable=SC2086
parallel "$tp" check "$program" ${SWEEP_ARGS:-} --shard {}/"$count" \
    --output "$outdir"/part_{}.json --threads 1 --quiet ::: $(seq 1 "$count")
"$tp" merge "$outdir"/part_*.json --output "$outdir/sweep.json"
# shellcheck disable=SC2086
"$tp" check "$program" ${CHECK_ARGS:-} --from "$outdir/sweep.json" || [ $? -eq 1 ]
