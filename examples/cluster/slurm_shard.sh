#!/usr/bin/env bash
# One shard of the sweep of a tp check, as one task of a Slurm job array.
#
#   sbatch --array=1-16 examples/cluster/slurm_shard.sh programs/mlp_mup.tp sweep/
#
# Task K of the array runs the K-th of M shards (M = the array's size) of the sweep `tp
# check` runs and writes sweep/part_K.json; slurm_merge.sh combines them and judges the
# whole sweep (submit.sh chains the two jobs). Width programs are split by (width, seed)
# cell, mean-field programs by seed. `tp check PROGRAM ... --plan --shard K/M` prints the
# memory and time of a shard first: size --mem and --time from it. Options that change
# the sweep go in SWEEP_ARGS (same for every task), e.g. SWEEP_ARGS="--seeds 40 --widths
# 256,512,1024,2048,4096,8192" or, for a mean-field program, SWEEP_ARGS="--particles
# 128,256,512,1024,2048,4096 --seeds 48".
#SBATCH --job-name=tp-shard
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=01:00:00
#SBATCH --output=tp-shard-%A_%a.log
set -euo pipefail

program=${1:?usage: slurm_shard.sh PROGRAM.tp OUTDIR}
outdir=${2:?usage: slurm_shard.sh PROGRAM.tp OUTDIR}
count=${SLURM_ARRAY_TASK_COUNT:?submit as a job array: sbatch --array=1-M}
index=${SLURM_ARRAY_TASK_ID:?submit as a job array: sbatch --array=1-M}
tp=${TP:-tp}

mkdir -p "$outdir"
# SWEEP_ARGS is split into words on purpose: it holds several options.
# shellcheck disable=SC2086
"$tp" check "$program" ${SWEEP_ARGS:-} \
    --shard "$index/$count" --output "$outdir/part_$index.json" \
    --threads "${SLURM_CPUS_PER_TASK:-1}" --quiet
