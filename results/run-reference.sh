#!/usr/bin/env bash
# Re-runs the lab's reference results (results/reference/*.json) on this machine.
# Each suite is one `vmalab bench` run; the comparison tables in results/README.md
# are rendered from these files with `vmalab compare FILE --markdown`.
# Run from the repository root after `make test` (which creates .venv).
set -euo pipefail
V=.venv/bin/vmalab
OUT=results/reference
mkdir -p "$OUT"
ALL=list,sortedcontainers,bintrees,rbtree,vmacache+rbtree,maple,vmacache+maple,xarray
P="-p 6 -n 3"    # 6 worker processes x 3 values per benchmark (pyperf's default is 20 x 3)

$V bench --suite lookup   --backend $ALL --size 1k,10k,65530 $P -o $OUT/lookup.json   --no-table
$V bench --suite insert   --backend $ALL --size 1k,10k        $P -o $OUT/insert.json   --no-table
$V bench --suite overlap  --backend $ALL --size 1k,10k,65530 $P -o $OUT/overlap.json  --no-table
$V bench --suite gap      --backend $ALL --size 1k,10k,65530 $P -o $OUT/gap.json      --no-table
$V bench --suite trace    --backend $ALL                      $P -o $OUT/trace.json    --no-table
$V bench --suite rangelock                --rigorous            -o $OUT/rangelock.json --no-table
$V bench --suite io       --threads 1,2,4,8,16 --rigorous       -o $OUT/io.json        --no-table
$V bench --suite threaded --backend maple,rbtree,vmacache+rbtree,xarray,list --threads 1,2,4,8 \
         $P -o $OUT/threaded.json --no-table
# the maple fan-out sweep (leaf slots 8/16/32/64) of find/lookup, next to the list floor
$V bench --suite lookup --backend 'list,maple[leaf_slots=8],maple,maple[leaf_slots=32],maple[leaf_slots=64]' \
         --size 10k $P -o $OUT/fanout.json --no-table
