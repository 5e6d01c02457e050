#!/usr/bin/env bash
# Installs the pinned OPA CLI into .tools/bin, only when it is missing or reports another version.
# Reproducible: built from the Go module proxy, without cgo (not needed for `opa build -t wasm`).
set -euo pipefail

OPA_VERSION="${OPA_VERSION:-v1.22.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
opa="$bin/opa"

if [[ -x "$opa" ]] && [[ "$("$opa" version 2>/dev/null | sed -n 's/^Version: //p')" == "${OPA_VERSION#v}" ]]; then
  echo "opa ${OPA_VERSION} already installed at $opa"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-opa: Go is required to build opa ${OPA_VERSION} (https://go.dev/dl/)" >&2
  exit 1
fi

mkdir -p "$bin"
echo "installing opa ${OPA_VERSION} into $bin"
CGO_ENABLED=0 GOBIN="$bin" go install "github.com/open-policy-agent/opa@${OPA_VERSION}"
# sed reads all of opa's output: `| head -n 1` would SIGPIPE opa and fail the script under pipefail.
echo "installed opa $("$opa" version | sed -n 's/^Version: //p')"
