# shellcheck shell=bash
# Shared by scripts/servers and tests/programs/issue10-servers.sh: start a
# real server (redis, memcached, nginx) on a free loopback port with its own
# configuration and data under a private directory, natively or under
# scripts/gpm-run, drive it with its usual load generator (always native),
# and stop it, telling a clean exit from a crash or a hang. Never touches the
# system's services or /etc. Sourced, not executed; needs lib/build.sh.
#
# Each server_* function sets server_why to a one-line reason when it fails.

# Debian bookworm's packages: the servers, their load generators (redis-tools
# has redis-benchmark and redis-cli; libmemcached-tools has memcaslap), curl to
# fetch a page. nginx-light is only a transitional package there.
servers_packages=(redis-server redis-tools memcached libmemcached-tools nginx wrk curl)

servers_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Settings of the loads, which the callers may change before server_load.
server_clients=50        # connections of every load generator
server_redis_requests=100000
server_seconds=10        # memcaslap and wrk run this long
server_client_threads=2  # memcaslap -T and wrk -t

# server_free_port: prints a TCP port that no socket of this machine uses
# (listening or not, IPv4 or IPv6), so that a fresh run never meets the
# TIME_WAIT connections of the last one, taken below the kernel's range of
# ephemeral ports when there is room, so that no client's socket takes it.
server_free_port() {
    local i port low=10000 span=20000 eph
    read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
    ((${eph:-0} > low + 1000)) && span=$((eph - low))
    for ((i = 0; i < 1000; i++)); do
        port=$((low + RANDOM % span))
        # /proc/net/tcp's local address ends in ":PORT" in 4 hex digits;
        # it can hold tens of thousands of TIME_WAIT lines, so grep reads it.
        if ! grep -q ":$(printf '%04X' "$port") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# server_setup NAME DIR PORT: writes NAME's configuration and content under
# DIR (which must exist).
server_setup() {
    local name=$1 dir=$2 port=$3
    case $name in
    redis)
        cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
daemonize no
supervised no
dir $dir
logfile ""
save ""
appendonly no
EOF
        ;;
    memcached) ;; # everything is on the command line
    nginx)
        # One master and two workers (fork under gpm), each with a pool of 4
        # threads: with sendfile off and "aio threads", every read of a file
        # is done by a thread of the pool, one read per request since the
        # buffer holds the whole 64 KiB file.
        mkdir -p "$dir/logs" "$dir/html" "$dir/tmp"
        head -c 65536 /dev/urandom >"$dir/html/64k.bin"
        echo ok >"$dir/html/index.html"
        # Workers of a master started by root would otherwise run as nobody,
        # who cannot read a private directory.
        local user=
        (($(id -u) == 0)) && user="user $(id -un) $(id -gn);"
        cat >"$dir/nginx.conf" <<EOF
$user
daemon off;
master_process on;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
thread_pool gpm threads=4 max_queue=65536;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $dir/html;
        sendfile off;
        aio threads=gpm;
        output_buffers 1 64k;
        keepalive_requests 1000000;
    }
}
EOF
        ;;
    *) echo "servers: unknown server $name" >&2; return 2 ;;
    esac
}

# server_start NAME DIR PORT MODE: starts NAME in the background, its output
# in DIR/server.log, and waits until it answers (10 s at most; one that does
# not is diagnosed and killed, see server_kill). MODE is
# native, or gpm (under scripts/gpm-run; GPM_MAXPROCS and the like pass
# through the environment). Sets server_pid. SIGINT and SIGQUIT get their
# default action back (bash ignores them in background jobs), so that gpm
# installs its SIGQUIT dump as it would under a terminal.
server_start() {
    # shellcheck disable=SC2054 # INT,QUIT is one argument
    local name=$1 dir=$2 port=$3 mode=$4 pre=(env --default-signal=INT,QUIT) cmd
    server_why=
    [[ $mode == gpm ]] && pre+=("$servers_root/scripts/gpm-run")
    case $name in
    redis) cmd=(redis-server "$dir/redis.conf") ;;
    memcached)
        cmd=(memcached -l 127.0.0.1 -p "$port" -U 0 -t 4 -c 1024 -m 1024)
        (($(id -u) == 0)) && cmd+=(-u root)
        ;;
    nginx) cmd=(nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log") ;;
    esac
    (cd "$dir" && exec "${pre[@]}" "${cmd[@]}") >"$dir/server.log" 2>&1 </dev/null &
    server_pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
        if ! server_alive "$server_pid"; then
            wait "$server_pid"
            server_why="ended at start-up: $(server_status_text $?)"
            return 1
        fi
        if server_answers "$name" "$port"; then
            [[ $mode == gpm ]] || return 0
            # A run meant for gpm that is not under gpm would measure and
            # test nothing: libgpm.so must be mapped, and not in pass-through.
            if ! grep -q '/libgpm\.so$' "/proc/$server_pid/maps" 2>/dev/null; then
                server_why="libgpm.so is not loaded in the server"
            elif grep -q 'threads run natively' "$dir/server.log"; then
                server_why="gpm is in pass-through: $(grep -m1 'threads run natively' "$dir/server.log")"
            else
                return 0
            fi
            server_kill "$server_pid" "$dir"
            return 1
        fi
        sleep 0.1
    done
    server_why="does not answer 10 s after its start"
    server_kill "$server_pid" "$dir" diagnose
    return 1
}

# server_alive PID: PID exists and is not a zombie (a child that ended is a
# zombie until waited for, and kill -0 still finds it).
server_alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# server_answers NAME PORT: one request that NAME answers when it serves.
server_answers() {
    local name=$1 port=$2 line fd
    case $name in
    redis) [[ $(timeout 5 redis-cli -p "$port" ping 2>/dev/null) == PONG ]] ;;
    memcached)
        { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
        printf 'version\r\n' >&"$fd"
        read -r -t 5 line <&"$fd"
        exec {fd}>&-
        [[ $line == VERSION* ]]
        ;;
    nginx) [[ $(curl -s --max-time 5 "http://127.0.0.1:$port/index.html") == ok ]] ;;
    esac
}

# server_check NAME DIR PORT: the server still answers, and with the right
# data: a value stored and read back (redis, memcached), a file's bytes
# (nginx). Sets server_why on failure.
server_check() {
    local name=$1 dir=$2 port=$3 value=gpm-$RANDOM-$RANDOM line fd
    server_why=
    case $name in
    redis)
        timeout 5 redis-cli -p "$port" set gpm:check "$value" >/dev/null 2>&1 &&
            [[ $(timeout 5 redis-cli -p "$port" get gpm:check 2>/dev/null) == "$value" ]] && return 0
        ;;
    memcached)
        if { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
            printf 'set gpm:check 0 0 %d\r\n%s\r\nget gpm:check\r\n' "${#value}" "$value" >&"$fd"
            local reply=()
            while read -r -t 5 line <&"$fd"; do
                line=${line%$'\r'}
                reply+=("$line")
                [[ $line == END ]] && break
            done
            exec {fd}>&-
            [[ ${reply[*]} == "STORED VALUE gpm:check 0 ${#value} $value END" ]] && return 0
        fi
        ;;
    nginx)
        curl -s --max-time 5 -o "$dir/fetched" "http://127.0.0.1:$port/64k.bin" &&
            cmp -s "$dir/fetched" "$dir/html/64k.bin" && return 0
        ;;
    esac
    server_why="no right answer to a check request after the load"
    return 1
}

# server_cpu_ticks PID: the CPU time (user and system, in clock ticks) of
# process PID, all its threads, and of its children (nginx's workers).
server_cpu_ticks() {
    local total=0 p stat f
    for p in "$1" $(server_children "$1"); do
        { read -r stat <"/proc/$p/stat"; } 2>/dev/null || continue
        stat=${stat##*) }
        read -ra f <<<"$stat"
        # after the name: state is field 3, utime 14, stime 15
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# server_us_per TICKS N: microseconds of CPU per request, TICKS clock ticks
# over N requests ("-" for none).
server_us_per() {
    awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }'
}

# server_load NAME DIR PORT PID: runs NAME's load generator against the
# server PID, its output in DIR/load.out, and prints one line per load,
# tab-separated: its label; the throughput (requests or operations per
# second; "-" when the generator printed none); the server's CPU time per
# request in microseconds over the whole run (for redis, over SET and GET
# together; "-" when unknown), which the machine's other users disturb less
# than the throughput; and the errors the generator reported (and 1 for a
# status other than 0 or a missing result).
server_load() {
    local name=$1 dir=$2 port=$3 pid=$4 out=$2/load.out rc errs rate requests cpu0 cpu1
    cpu0=$(server_cpu_ticks "$pid")
    case $name in
    redis)
        timeout 300 redis-benchmark -p "$port" -t set,get -n "$server_redis_requests" \
            -c "$server_clients" --csv >"$out" 2>&1
        rc=$?
        ;;
    memcached)
        # -v 0.1: a tenth of the gets compare the value with the one set.
        timeout $((server_seconds + 60)) memcaslap -s "127.0.0.1:$port" -T "$server_client_threads" \
            -c "$server_clients" -t "${server_seconds}s" -v 0.1 >"$out" 2>&1
        rc=$?
        ;;
    nginx)
        timeout $((server_seconds + 60)) wrk -t "$server_client_threads" -c "$server_clients" \
            -d "${server_seconds}s" "http://127.0.0.1:$port/64k.bin" >"$out" 2>&1
        rc=$?
        ;;
    esac
    cpu1=$(server_cpu_ticks "$pid")
    local ticks=$((cpu1 - cpu0))
    case $name in
    redis)
        # redis-benchmark prints "Error: ..." (and, for replies,
        # "Error from server: ...") and stops on a failed connection.
        local test rates=0
        errs=$(grep -ci error "$out")
        for test in SET GET; do
            grep -q "^\"$test\"," "$out" && rates=$((rates + 1))
        done
        for test in SET GET; do
            rate=$(awk -F'"' -v t="$test" '$2 == t { print $4 }' "$out")
            printf '%s\t%s\t%s\t%s\n' "$test -n $server_redis_requests -c $server_clients" "${rate:--}" \
                "$(server_us_per "$ticks" $((rates == 2 ? 2 * server_redis_requests : 0)))" \
                $((errs + (rc != 0 || ${#rate} == 0)))
        done
        ;;
    memcached)
        rate=$(awk '/^Run time:/ { for (i = 1; i < NF; i++) if ($i == "TPS:") print $(i + 1) }' "$out")
        requests=$(awk '/^Run time:/ { for (i = 1; i < NF; i++) if ($i == "Ops:") print $(i + 1) }' "$out")
        # The counters of misses and failed verifications, and the messages
        # memcaslap prints on a failed request ("<fd ERROR ...", "data
        # verification failed", "Failed to write").
        errs=$(awk '/^(get_misses|verify_misses|verify_failed):/ { n += $2; next }
                    tolower($0) ~ /error|fail/ { n++ } END { print n + 0 }' "$out")
        printf '%s\t%s\t%s\t%s\n' "get/set 9:1 -c $server_clients, ${server_seconds} s" "${rate:--}" \
            "$(server_us_per "$ticks" "${requests:-0}")" $((errs + (rc != 0 || ${#rate} == 0)))
        ;;
    nginx)
        rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
        requests=$(awk '/ requests in / { print $1 }' "$out")
        # "Socket errors: connect 0, read 0, write 0, timeout 0" and
        # "Non-2xx or 3xx responses: N" appear only when not zero; the
        # server's own error log counts too.
        errs=$(awk '/Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
                    /Non-2xx or 3xx responses:/ { n += $NF } END { print n + 0 }' "$out")
        errs=$((errs + $(grep -cE '\[(alert|crit|emerg|error)\]' "$dir/logs/error.log" 2>/dev/null)))
        printf '%s\t%s\t%s\t%s\n' "GET 64 KiB file (thread pool) -c $server_clients, ${server_seconds} s" \
            "${rate:--}" "$(server_us_per "$ticks" "${requests:-0}")" $((errs + (rc != 0 || ${#rate} == 0)))
        ;;
    esac
    return 0
}

# server_stop NAME DIR PORT PID HOW: asks the server to end, HOW being term
# (SIGTERM), quit (SIGQUIT: nginx's graceful shutdown) or shutdown (redis'
# SHUTDOWN NOSAVE command), and waits 15 s at most. Returns 0 when it ended
# with status 0 and left no process behind; otherwise sets server_why. A
# server that does not end is diagnosed and killed (server_kill).
server_stop() {
    local name=$1 dir=$2 port=$3 pid=$4 how=$5 kids i rc
    server_why=
    kids=$(server_children "$pid")
    if ! server_alive "$pid"; then
        wait "$pid"
        server_why="died before it was asked to end: $(server_status_text $?)"
        # shellcheck disable=SC2086 # the ids are words
        server_reap $kids
        return 1
    fi
    case $how in
    term) kill -TERM "$pid" ;;
    quit) kill -QUIT "$pid" ;;
    shutdown) timeout 10 redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 ;;
    esac
    for ((i = 0; i < 150; i++)); do
        server_alive "$pid" || break
        sleep 0.1
    done
    if server_alive "$pid"; then
        server_why="still running 15 s after $how"
        server_kill "$pid" "$dir" diagnose
        return 1
    fi
    wait "$pid"
    rc=$?
    # nginx's workers end before their master; anything left is a leak.
    local left=()
    for i in $kids; do server_alive "$i" && left+=("$i"); done
    if ((${#left[@]})); then
        server_why="child processes ${left[*]} still running after the server ended"
        server_reap "${left[@]}"
        return 1
    fi
    if ((rc != 0)); then
        server_why="ended with $(server_status_text "$rc") after $how"
        return 1
    fi
    return 0
}

# server_kill PID DIR [diagnose]: ends a server that cannot be stopped
# cleanly, and its children. With diagnose, shows it first to gdb (every
# kernel thread's stack, in DIR/gdb.txt), then sends it SIGQUIT, which under
# gpm prints every G's stack to DIR/server.log when the server left
# SIGQUIT's action alone; says so in server_why.
server_kill() {
    local pid=$1 dir=$2 kids
    kids=$(server_children "$pid")
    if [[ ${3:-} == diagnose ]]; then
        if command -v gdb >/dev/null; then
            timeout 60 gdb -p "$pid" -batch -ex 'info threads' -ex 'thread apply all bt' >"$dir/gdb.txt" 2>&1
            server_why+="; gdb's backtraces in $dir/gdb.txt"
        fi
        kill -QUIT "$pid" 2>/dev/null
        sleep 2
        server_why+="; SIGQUIT sent (gpm's dump, if any, in $dir/server.log)"
    fi
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # shellcheck disable=SC2086 # the ids are words
    server_reap $kids
}

# server_children PID: the ids of PID's child processes.
server_children() {
    local f stat
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue
        stat=${stat##*) }
        stat=${stat#* }
        [[ ${stat%% *} == "$1" ]] && { f=${f#/proc/}; echo -n "${f%/stat} "; }
    done
    return 0
}

# server_reap PID...: kills the given processes (a server's children).
server_reap() {
    local p
    for p in "$@"; do kill -KILL "$p" 2>/dev/null; done
    return 0
}

# server_status_text STATUS: "status N", or the signal's name for 129..
server_status_text() {
    if (($1 > 128)) && kill -l $(($1 - 128)) >/dev/null 2>&1; then
        echo "signal SIG$(kill -l $(($1 - 128)))"
    else
        echo "status $1"
    fi
}
