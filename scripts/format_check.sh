#!/usr/bin/env bash
# `make check`: the formatter in lint mode. Formats every Swift file of Sources, Tests and
# Package.swift with swift-format (the toolchain's `swift format`, configured by .swift-format)
# into memory and fails, listing the files, when any differs from what is checked in.
# Fix with `make fmt`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! swift format --version >/dev/null 2>&1; then
    echo "format_check: swift format is not available in this toolchain" >&2
    exit 2
fi
bad=()
while IFS= read -r -d '' f; do
    if ! swift format format --configuration .swift-format "$f" | cmp -s - "$f"; then bad+=("$f"); fi
done < <(find Sources Tests -name '*.swift' -print0 | sort -z; printf 'Package.swift\0')
if [ ${#bad[@]} -gt 0 ]; then
    echo "format_check: ${#bad[@]} file(s) differ from swift format's output (run make fmt):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "format_check: every Swift file is formatted"
