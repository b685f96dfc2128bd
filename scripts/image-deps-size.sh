#!/usr/bin/env bash
# The size of an image's node_modules, without Docker: replays the runtime stage's install of
# api/Dockerfile or model/Dockerfile (production dependencies of one workspace package, then the
# same pruning) in an empty temporary folder, and prints the total and the largest packages.
#   bash scripts/image-deps-size.sh api|model
set -euo pipefail
unit="${1:?usage: bash scripts/image-deps-size.sh api|model}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib" "$work/$unit"
cp "$root/package.json" "$root/package-lock.json" "$root/.npmrc" "$work/"
cp "$root/lib/package.json" "$work/lib/"
cp "$root/$unit/package.json" "$work/$unit/"
cd "$work"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --ignore-scripts --workspace "@icls/$unit" --silent
find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete
if [ -d node_modules/onnxruntime-node ]; then
  find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d \
    ! -path "*/$(node -p 'process.platform + "/" + process.arch')" -exec rm -rf {} +
fi
echo "$unit image: node_modules $(du -sm node_modules | cut -f1) MB"
# Scoped packages one by one (du counts each file once, so they come before the top-level folders).
du -sm node_modules/@*/* node_modules/[!@]* 2>/dev/null | sort -rn | head -6
for heavy in onnxruntime-node sharp nsfwjs @tensorflow; do
  [ -e "node_modules/$heavy" ] && echo "  contains $heavy"
done
exit 0
