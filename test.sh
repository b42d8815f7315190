#!/usr/bin/env bash
# Runs every test suite, then the perf harness in --quick mode. Needs: the .NET 10 SDK; nginx, nghttpx
# (nghttp2-proxy), h2load (nghttp2-client), node, curl, prometheus (promtool), haproxy, iperf3 on PATH (.ci/run installs them); root for
# the network-namespace tests. Extra arguments go to
# `dotnet test` (e.g. --filter FullyQualifiedName~Http2).
set -euo pipefail
cd "$(dirname "$0")"
dotnet build Ambient.sln -c Release -warnaserror --nologo -v quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test tests/Ambient.Tests/Ambient.Tests.csproj -c Release --no-build --nologo \
  --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
# The side-by-side perf harness, briefly: fails if a configuration (direct, HAProxy pairs, Ambient) carries no traffic.
if [ $# -eq 0 ]; then   # a filtered test run (extra arguments) skips it
perf_out=$(mktemp -d)
if ! dotnet perf/Ambient.Harness/bin/Release/net10.0/ambient-perf.dll --quick --out "$perf_out"; then
  echo "perf harness --quick: a configuration could not carry traffic"
  code=1
fi
rm -rf "$perf_out"
fi
passed=$(grep -Eo '^ +Passed: +[0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
failed=$(grep -Eo '^ +Failed: +[0-9]+' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$code"
