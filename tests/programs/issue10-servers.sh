#!/usr/bin/env bash
# tests/programs/issue10-servers.sh [-m MODES] [ITEM...]: issue 10's real
# servers, each started on a free loopback port with a private configuration
# (scripts/lib/servers.sh, shared with scripts/servers), run in each mode of
# MODES (default "gpm-1p gpm-2p"; also "native"; gpm-Np runs the server
# under scripts/gpm-run with GPM_MAXPROCS=N, the load generator natively),
# given a short load, checked and stopped. An item passes when the load
# generator reports no error, the server still answers a check request
# correctly after the load, and it ends with status 0, leaving no process
# behind, within 15 s of being asked to. Prints PASS or FAIL (with the
# reason and the logs' last lines) per item and mode; exits 1 if any
# failed, 77 if every item asked for was skipped (its packages absent;
# scripts/test installs them). Items (default: all):
#   redis      redis-server; redis-benchmark -t set,get -n 20000 -c 10;
#              stopped by redis-cli shutdown nosave
#   memcached  memcached -t 4; memcaslap -T 1 -c 10 -t 2s -v 0.1; stopped
#              by SIGTERM
#   nginx      nginx, a master and 2 workers with a pool of 4 threads that
#              reads the files; wrk -t 1 -c 10 -d 2s on a 64 KiB file;
#              stopped by SIGQUIT (graceful shutdown: the workers end their
#              thread pools and exit)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/lib/build.sh"
source "$root/scripts/lib/servers.sh"
modes="gpm-1p gpm-2p"
while getopts m: o; do
    case $o in
    m) modes=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
items=("$@")
((${#items[@]})) || items=(redis memcached nginx)

server_clients=10
server_redis_requests=20000
server_seconds=2
server_client_threads=1

work=$(mktemp -d)
running=
trap '[[ -n $running ]] && server_reap $(server_children "$running") "$running"; rm -rf "$work"' EXIT
failed=0 ran=0

report() { # ITEM MODE DIR SECONDS [REASON]
    if [[ -z ${5:-} ]]; then
        printf 'PASS %-10s %-7s %3d s\n' "$1" "$2" "$4"
    else
        failed=1
        printf 'FAIL %-10s %-7s %3d s: %s\n' "$1" "$2" "$4" "$5"
        local f
        for f in "$3/server.log" "$3/load.out" "$3/logs/error.log" "$3/gdb.txt"; do
            [[ -s $f ]] || continue
            echo "    ${f#"$3"/}:"
            tail -12 "$f" | sed 's/^/    | /'
        done
    fi
}

# run_item ITEM MODE DIR: sets why to the reasons of a failure, empty on
# success.
run_item() {
    local item=$1 mode=$2 dir=$3 port label rate errs p
    why=
    port=$(server_free_port) || { why="no free port"; return; }
    server_setup "$item" "$dir" "$port"
    case $mode in
    native) server_start "$item" "$dir" "$port" native ;;
    gpm-*p) p=${mode#gpm-}; GPM_MAXPROCS=${p%p} server_start "$item" "$dir" "$port" gpm ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac || { why=$server_why; return; }
    running=$server_pid
    while IFS=$'\t' read -r label rate _ errs; do
        if ((errs)) || [[ $rate == - ]]; then
            why="${why:+$why; }$label: $errs error(s) reported, throughput $rate"
        fi
    done < <(server_load "$item" "$dir" "$port" "$server_pid")
    server_check "$item" "$dir" "$port" || why="${why:+$why; }$server_why"
    local how=term
    [[ $item == redis ]] && how=shutdown
    [[ $item == nginx ]] && how=quit
    server_stop "$item" "$dir" "$port" "$server_pid" "$how" || why="${why:+$why; }$server_why"
    running=
}

for item in "${items[@]}"; do
    case $item in
    redis) need=(redis-server redis-benchmark redis-cli) ;;
    memcached) need=(memcached memcaslap) ;;
    nginx) need=(nginx wrk curl) ;;
    *) echo "unknown item $item" >&2; exit 2 ;;
    esac
    missing=
    for c in "${need[@]}"; do command -v "$c" >/dev/null || missing+=" $c"; done
    if [[ -n $missing ]]; then
        echo "SKIP $item: not installed:$missing"
        continue
    fi
    for mode in $modes; do
        ran=1
        t0=$SECONDS
        dir=$work/$item-$mode
        mkdir -p "$dir"
        run_item "$item" "$mode" "$dir"
        report "$item" "$mode" "$dir" $((SECONDS - t0)) "$why"
    done
done
((ran)) || exit 77
exit $failed
