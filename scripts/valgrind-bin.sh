#!/usr/bin/env bash
# valgrind-bin.sh DIR [BUILD_BIN]: makes DIR a MEZZO_BIN for the system tests in which
# mezzo-master and mezzo-agent run under valgrind's memcheck (every other binary is a
# link to BUILD_BIN, default build/bin, the optimized build with debug info). Each
# process writes its report to DIR/logs/<name>.<pid>.log; an empty log means no error
# and no definite leak (valgrind 3.19 also warns there of "unhandled syscall: 434":
# pidfd_open, which it does not know; the agent then watches executors without it). Example:
#   scripts/valgrind-bin.sh /tmp/vg && MEZZO_BIN=/tmp/vg pytest tests/system/test_fuzz_api.py
#   find /tmp/vg/logs -type f -size +0
set -euo pipefail
dir=${1:?usage: valgrind-bin.sh DIR [BUILD_BIN]}
src=$(cd "${2:-$(dirname "$0")/../build/bin}" && pwd)
command -v valgrind >/dev/null || { echo "valgrind-bin.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
for b in "$src"/*; do
  [ -f "$b" ] && ln -sfn "$b" "$dir/$(basename "$b")"
done
for n in mezzo-master mezzo-agent; do
  rm -f "$dir/$n"
  cat > "$dir/$n" <<WRAP
#!/bin/sh
exec valgrind --quiet --error-limit=no --leak-check=full --show-leak-kinds=definite \\
  --errors-for-leak-kinds=definite --log-file=$dir/logs/$n.%p.log $src/$n "\$@"
WRAP
  chmod +x "$dir/$n"
done
echo "$dir: mezzo-master and mezzo-agent under valgrind, logs in $dir/logs"
