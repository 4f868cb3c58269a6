#!/usr/bin/env bash
# How good `--plan`'s time estimate is: for each mean-field program, the estimated and
# the measured time of one shard of its default `tp check` sweep, on one thread.
#
#   examples/cluster/plan_accuracy.sh 1/8 programs/mf_phase.tp programs/mf_decay.tp
#
# Prints one line per program: program, shard, estimate, measured (seconds). Run it on an
# otherwise idle machine: the estimate times a few steps, the measurement the whole shard.
set -euo pipefail

shard=${1:?usage: plan_accuracy.sh K/M PROGRAM.tp...}
shift
tp=${TP:-tp}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for program in "$@"; do
    estimate=$("$tp" check "$program" --plan --shard "$shard" | sed -n 's/^  shard .*about \([0-9.]* [a-z]*\) on one thread.*/\1/p')
    start=$(date +%s.%N)
    "$tp" check "$program" --threads 1 --shard "$shard" --output "$out/part.json" --quiet > /dev/null
    end=$(date +%s.%N)
    printf '%s %s estimate %s, measured %.1f s\n' "$program" "$shard" "$estimate" "$(echo "$end - $start" | bc)"
done
