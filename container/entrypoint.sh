#!/bin/sh
# tapeproxy in a container: the serving commands listen on every interface of the container on
# 8080, the control API on 8081, the CA in /ca, with the options below placed first so that any
# the user gives after them win (argparse keeps the last). --allow-remote: in a container, clients
# are never on loopback; publish the port on the host's loopback (-p 127.0.0.1:8080:8080) or give
# --proxy-auth USER:PASS. Other commands (ctl, token, permissions, lint, ...) run as given.
set -e
command="${1:-demo}"
[ "$#" -gt 0 ] && shift
case "$command" in
    demo | replay | record)
        exec /opt/tapeproxy/bin/tapeproxy "$command" --host 0.0.0.0 --allow-remote --port 8080 \
            --control-port 8081 --confdir /ca "$@" ;;
    *)
        exec /opt/tapeproxy/bin/tapeproxy "$command" "$@" ;;
esac
