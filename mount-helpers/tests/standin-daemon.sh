#!/bin/sh
# Test stand-in for the FUSE daemon "usmfs DIR -o OPTS" until it is built:
# records its argv in $STANDIN_LOG and mounts a tmpfs (ro if asked).
echo "$*" >"${STANDIN_LOG:-/dev/null}"
dir=$1
ro=
case ",$3," in *,ro,*) ro=,ro ;; esac
exec /bin/mount -t tmpfs -o "size=64M$ro" usmfs-standin "$dir"
