#!/usr/bin/env bash
# Runs `npm run bench -- --threads 2` on the workplace's GPU machine (x86-64, 16 cores, no Node, no
# internet), from a payload packed on the development machine: Node 22 (the release bundle's), the
# compiled project and its production node_modules, the Llama vocabulary, llama.cpp's source tree
# (built there, natively, by bench/tools/llamaCppTools.ts) and Mosquitto with its libraries.
#   start:  bash deviceMachineBench.sh start PAYLOAD_DIR   (unpacks, starts the bench in its own session)
#   wait:   bash deviceMachineBench.sh wait SECONDS        (follows the log; copies results to $OUT when done)
set -uo pipefail
work=/tmp/tinyllamad-bench
case "$1" in
  start)
    payload=$2
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
    (lscpu | head -20; free -m; nproc) >"$work/machine.txt" 2>&1
    cd app && PATH="$PWD/bin:$PATH" TINYLLAMAD_BENCH_RESULTS="$work/results" \
      setsid nohup node dist/bench/run.js --threads 2 --reps "${REPS:-6}" >"$work/bench.log" 2>&1 </dev/null &
    echo "started $!"
    ;;
  wait)
    deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ] && ! grep -q "^report: " "$work/bench.log" 2>/dev/null; do
      sleep 10
      pgrep -f "dist/bench/run.js" >/dev/null || break
    done
    grep "^\[bench\]" "$work/bench.log" | cut -c1-400 | tail -30
    tail -5 "$work/bench.log" | cut -c1-2000
    cp "$work"/results/*.json "$work"/results/*.svg "$work/machine.txt" "$OUT/" 2>/dev/null
    cp "$work/bench.log" "$OUT/bench.log" 2>/dev/null
    ;;
esac
