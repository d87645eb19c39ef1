#!/usr/bin/env bash
# Runs `npm run bench -- --threads 2` on the workplace's GPU machine (x86-64, 16 cores, no Node, no
# internet), from a payload packed on the development machine: Node 22 (the release bundle's), the
# compiled project and its production node_modules, the Llama vocabulary, llama.cpp's source tree
# (built there, natively, by bench/tools/llamaCppTools.ts) and Mosquitto with its libraries.
#   start:  bash deviceMachineBench.sh start PAYLOAD_DIR   (unpacks, starts the bench in the background)
#   wait:   bash deviceMachineBench.sh wait SECONDS        (follows the log; copies results to $OUT when done)
#   only:   bash deviceMachineBench.sh only PAYLOAD_DIR WORKLOADS  (in the foreground; unpacks only when
#           the machine is fresh). A command's background processes end with it, setsid or not: one
#           call holds at most 10 minutes, so the workloads go in two or three calls.
set -uo pipefail
work=/tmp/tinyllamad-bench
unpack() {
    payload=$1
    rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
    tar xJf "$payload/payload.tar.xz" && tar xJf "$payload/mq.tar.xz" -C /tmp || exit 1
    # The compiled project as it is now (the big payload may hold an older build).
    [ -f "$payload/dist.tar.xz" ] && rm -rf app/dist && tar xJf "$payload/dist.tar.xz" -C app
    if [ ! -x /usr/sbin/mosquitto ]; then
      printf '#!/bin/sh\nLD_LIBRARY_PATH=/tmp/mq exec /tmp/mq/mosquitto "$@"\n' >/usr/sbin/mosquitto
      chmod +x /usr/sbin/mosquitto
    fi
    mkdir -p app/bench/.build/llama.cpp && tar xf llama-src.tar -C app/bench/.build/llama.cpp && rm llama-src.tar
    mkdir -p app/bin && mv app/node app/bin/node
    # The release's node-llama-cpp has no source bundle; an empty one marks the package root.
    touch app/node_modules/node-llama-cpp/llama/gitRelease.bundle
    (lscpu | head -20; free -m; nproc) >"$work/machine.txt" 2>&1
}
case "$1" in
  only)
    [ -x "$work/app/bin/node" ] || unpack "$2" || exit 1
    [ -f "$2/dist.tar.xz" ] && rm -rf "$work/app/dist" && tar xJf "$2/dist.tar.xz" -C "$work/app"
    cd "$work/app" && PATH="$PWD/bin:$PATH" TINYLLAMAD_BENCH_RESULTS="$work/results-$3" \
      node dist/bench/run.js --threads 2 --reps "${REPS:-6}" --only "$3" >"$work/bench-$3.log" 2>&1
    grep "^\[bench\]" "$work/bench-$3.log" | cut -c1-600
    cp "$work/results-$3"/*.json "$work/machine.txt" "$OUT/" 2>/dev/null
    ;;
  start)
    unpack "$2" || exit 1
    cd app && PATH="$PWD/bin:$PATH" TINYLLAMAD_BENCH_RESULTS="$work/results" \
      setsid nohup node dist/bench/run.js --threads 2 --reps "${REPS:-6}" >"$work/bench.log" 2>&1 </dev/null &
    echo $! >"$work/pid"
    echo "started $!"
    ;;
  wait)
    deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ] && ! grep -q "^report: " "$work/bench.log" 2>/dev/null; do
      sleep 10
      kill -0 "$(cat "$work/pid")" 2>/dev/null || break
    done
    grep "^\[bench\]" "$work/bench.log" | cut -c1-400 | tail -30
    tail -5 "$work/bench.log" | cut -c1-2000
    cp "$work"/results/*.json "$work"/results/*.svg "$work/machine.txt" "$OUT/" 2>/dev/null
    cp "$work/bench.log" "$OUT/bench.log" 2>/dev/null
    ;;
esac
