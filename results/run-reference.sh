#!/usr/bin/env bash
# Re-runs the lab's reference results (results/reference/*.json) on this machine.
# Each suite is one `vmalab bench` run; the tables in results/README.md are rendered
# from these files with `vmalab compare FILE --markdown`.
# Run from the repository root after `make test` (which creates .venv). About 80 minutes
# on the 2-core reference machine: the pyperf process counts below (rather than pyperf's
# default 20 processes) are what fitted the time.
set -euo pipefail
V=.venv/bin/vmalab
OUT=results/reference
mkdir -p "$OUT"
ALL=list,sortedcontainers,bintrees,rbtree,vmacache+rbtree,maple,vmacache+maple,xarray

$V bench --fast -o $OUT/fast.json --no-table     # the README's main job, for the record
$V bench --suite lookup   --backend $ALL --size 1k,10k,65530 -p 6 -n 3 -o $OUT/lookup.json  --no-table
$V bench --suite insert   --backend $ALL --size 1k,10k        -p 4 -n 3 -o $OUT/insert.json  --no-table
$V bench --suite gap      --backend $ALL --size 1k,10k,65530 -p 4 -n 3 -o $OUT/gap.json     --no-table
$V bench --suite io       --threads 1,2,4,8,16              -p 10 -n 3 -o $OUT/io.json      --no-table
$V bench --suite rangelock                                  -p 10 -n 3 -o $OUT/rangelock.json --no-table
$V bench --suite threaded --backend maple,rbtree,xarray,list --threads 1,2,4 --filter 'threaded/mm/*' \
                                                            -p 8 -n 3 -o $OUT/threaded.json --no-table
$V bench --suite threaded --backend maple,rbtree,xarray,list --threads 1,2,4 --filter 'threaded/index/*' \
                                                            -p 4 -n 3 -o $OUT/threaded-index.json --no-table
# the mm experiment's regimes: mapper rounds of 8 and 128 pages, and 4x the page work
for X in "map_pages=8 page_work=16" "map_pages=128 page_work=16" "map_pages=32 page_work=64"; do
  set -- $X
  $V bench --suite threaded --backend maple --threads 2,4 --filter 'threaded/mm/disjoint/*' --extra "$1" --extra "$2" \
           -p 6 -n 3 -o "$OUT/threaded-sweep-${1#*=}-${2#*=}.json" --no-table
done
$V bench --suite trace    --backend $ALL                    -p 4 -n 3 -o $OUT/trace.json    --no-table
$V bench --suite overlap  --backend $ALL --size 1k,10k        -p 4 -n 3 -o $OUT/overlap.json  --no-table
# the maple fan-out sweep (leaf slots 8/16/32/64) of find/lookup, next to the list floor
$V bench --suite lookup --backend 'list,maple[leaf_slots=8],maple,maple[leaf_slots=32],maple[leaf_slots=64]' \
         --size 10k -p 4 -n 3 -o $OUT/fanout.json --no-table
