#!/usr/bin/env bash
# Submits a sharded tp sweep on Slurm: M shard tasks, then a merge-and-check job that
# starts when all of them have succeeded.
#
#   examples/cluster/submit.sh programs/mlp_mup.tp sweep/ 16
set -euo pipefail

program=${1:?usage: submit.sh PROGRAM.tp OUTDIR M}
outdir=${2:?usage: submit.sh PROGRAM.tp OUTDIR M}
count=${3:?usage: submit.sh PROGRAM.tp OUTDIR M}
here=$(dirname "$0")

jobid=$(sbatch --parsable --array="1-$count" "$here/slurm_shard.sh" "$program" "$outdir")
sbatch --dependency="afterok:${jobid%%;*}" "$here/slurm_merge.sh" "$program" "$outdir" "$count"
