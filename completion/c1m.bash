# bash completion for c1m(1): commands, each command's options, and the
# values of the options that take a fixed set of words.
_c1m()
{
    local cur prev cmd opts
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "serve bench lab merge --help --version" -- "$cur"))
        return
    fi
    cmd=${COMP_WORDS[1]}
    case "$cmd:$prev" in
    serve:--arch) COMPREPLY=($(compgen -W "single reuseport dispatch exclusive prefork workerpool" -- "$cur")); return ;;
    serve:--child-arch) COMPREPLY=($(compgen -W "single reuseport dispatch exclusive workerpool" -- "$cur")); return ;;
    serve:--proto) COMPREPLY=($(compgen -W "echo ts8 http" -- "$cur")); return ;;
    bench:--proto) COMPREPLY=($(compgen -W "ts8 echo http ws" -- "$cur")); return ;;
    lab:--proto) COMPREPLY=($(compgen -W "ts8 echo http" -- "$cur")); return ;;
    serve:--ws-slow) COMPREPLY=($(compgen -W "close skip" -- "$cur")); return ;;
    serve:--balance) COMPREPLY=($(compgen -W "rr least" -- "$cur")); return ;;
    serve:--cpu-affinity) COMPREPLY=($(compgen -W "auto off" -- "$cur")); return ;;
    serve:--timers) COMPREPLY=($(compgen -W "wheel heap global-heap" -- "$cur")); return ;;
    serve:--backend|bench:--backend|lab:--backend) COMPREPLY=($(compgen -W "auto epoll uring" -- "$cur")); return ;;
    serve:--timeouts) COMPREPLY=($(compgen -W "off" -- "$cur")); return ;;
    lab:--netns) COMPREPLY=($(compgen -W "auto on off" -- "$cur")); return ;;
    lab:--experiment) COMPREPLY=($(compgen -W "archs timers push" -- "$cur")); return ;;
    lab:--archs) COMPREPLY=($(compgen -W "article single reuseport dispatch exclusive prefork workerpool" -- "$cur")); return ;;
    lab:--out) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    *:--json|*:--percentiles) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    case "$cmd" in
    serve) opts="--arch --loops --procs --child-arch --prefork-reuseport --workers --queue
                 --balance --cpu-affinity --edge --backend --proto --port --bind --access-log
                 --http-max-head --http-max-body --work --push-every --push-size --push-count
                 --ws-slow --ws-out-limit --ws-ping --ws-slow-grace --max-conns --out-high --out-low
                 --read-timeout --write-timeout --idle-timeout --header-timeout --timeouts
                 --timers --drain-timeout --upgrade-exec --upgrade-grace --pid-file
                 --metrics-interval --quiet --help --version" ;;
    bench) opts="--proto --push --path --host --port --url --method --header --size --pipeline --rate
                 --conns --procs --loops --backend --source --connect-rate --connect-timeout --retries
                 --connect-window --duration --warmup --start-at --interval --grace --json
                 --percentiles --quiet --help --version" ;;
    lab)   opts="--conns --duration --warmup --archs --proto --loops --backend --hosts --netns
                 --experiment --rounds --port --out --no-plots --dry-run --help --version" ;;
    merge) opts="--json --percentiles --help --version" ;;
    *) return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [ "$cmd" = merge ]; then
        COMPREPLY=($(compgen -f -X '!*.json' -- "$cur"))
    fi
}
complete -F _c1m c1m
