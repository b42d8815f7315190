#!/usr/bin/env bash
# Runs every test suite. Needs: the .NET 10 SDK; nginx, nghttpx (nghttp2-proxy), node, curl on PATH for the
# interop tests (.ci/run installs them). Extra arguments go to `dotnet test` (e.g. --filter Http2).
set -euo pipefail
cd "$(dirname "$0")"
dotnet build Ambient.sln -c Release -warnaserror --nologo -v quiet
dotnet test tests/Ambient.Tests/Ambient.Tests.csproj -c Release --no-build --nologo \
  --logger "console;verbosity=normal" "$@"
