#!/usr/bin/env bash
# Lint for the C++ of native/: exits non-zero on any finding.
#
#   native/lint.sh              check
#   clang-format -i FILES...    apply the format (.clang-format at the root)
#
# Needs clang-format (CI uses Debian 12's, version 14: output differs a
# little between major versions) and cpplint: apt-get install -y
# clang-format cpplint. Set CLANG_FORMAT or CPPLINT to use other binaries.
set -euo pipefail
cd "$(dirname "$0")"

clang_format="${CLANG_FORMAT:-clang-format}"
cpplint="${CPPLINT:-cpplint}"
for tool in "$clang_format" "$cpplint"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "native/lint.sh: $tool not found (apt-get install -y clang-format cpplint)" >&2
    exit 2
  fi
done

mapfile -t files < <(find src test -type f \( -name '*.h' -o -name '*.cc' \) | sort)
status=0

# Format: --Werror turns every difference into an error and a non-zero exit.
if ! "$clang_format" --dry-run --Werror "${files[@]}"; then
  echo "native/lint.sh: clang-format differences (fix: clang-format -i <file>)" >&2
  status=1
fi

# Style checks clang-format does not make; settings in CPPLINT.cfg.
if ! findings="$("$cpplint" --quiet "${files[@]}" 2>&1)"; then
  grep -v '^Done processing' <<<"$findings" >&2 || true
  status=1
fi

# core/ is plain C++ that the io_uring core test builds without Node: it
# must include no Node-API or libuv header.
if grep -rnE '#include[[:space:]]*[<"](napi\.h|node_api\.h|js_native_api\.h|node\.h|uv\.h|uv/)' src/core; then
  echo "native/lint.sh: src/core must not include Node-API or libuv headers" >&2
  status=1
fi

exit "$status"
