#!/bin/sh
# PostgreSQL's archive_command (deploy/backup.py installs it as <backup dir>/bin/archive-wal.sh):
#   archive-wal.sh %p %f  ->  <backup dir>/wal/%f.zst
# Written aside, flushed, then renamed, so the archive never holds half a segment. PostgreSQL archives a file
# again after a crash between copying and noting it: an identical copy already there is success, a different
# one an error (the archive must never be overwritten; a second cluster writing here is a mistake).
set -eu
src="$1"
dest="$(dirname "$0")/../wal/$2.zst"
if [ -f "$dest" ]; then
  if zstd -qdc "$dest" | cmp -s - "$src"; then exit 0; fi
  echo "archive-wal: $dest exists with other content" >&2
  exit 1
fi
zstd -q -1 -f -c "$src" >"$dest.part"
sync "$dest.part"
mv "$dest.part" "$dest"
sync "$(dirname "$dest")"
