#!/usr/bin/env bash
# Merges the parts of a sharded tp sweep and judges it (after slurm_shard.sh).
#
#   sbatch --dependency=afterok:JOBID examples/cluster/slurm_merge.sh programs/mlp_mup.tp sweep/ 16
#
# Writes OUTDIR/sweep.json (byte for byte what one unsharded run writes), then
# OUTDIR/check.json (`tp check --from`, which evaluates the limit here: give it the
# --set values of the sweep, and a mean-field --mutation, in CHECK_ARGS; the sizes and
# seeds are the file's) and OUTDIR/per_seed.csv.
#SBATCH --job-name=tp-merge
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=00:30:00
#SBATCH --output=tp-merge-%j.log
set -euo pipefail

program=${1:?usage: slurm_merge.sh PROGRAM.tp OUTDIR M}
outdir=${2:?usage: slurm_merge.sh PROGRAM.tp OUTDIR M}
count=${3:?usage: slurm_merge.sh PROGRAM.tp OUTDIR M}
tp=${TP:-tp}

parts=()
for k in $(seq 1 "$count"); do parts+=("$outdir/part_$k.json"); done
"$tp" merge "${parts[@]}" --output "$outdir/sweep.json"
# tp check exits with 1 when a verdict fails: the report is still written.
# shellcheck disable=SC2086
"$tp" check "$program" ${CHECK_ARGS:-} --from "$outdir/sweep.json" --quiet --json \
    --csv "$outdir/per_seed.csv" > "$outdir/check.json" || [ $? -eq 1 ]
