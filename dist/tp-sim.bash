# bash completion for tp-sim                                    -*- shell-script -*-
# Installed as share/bash-completion/completions/tp-sim. Model and hardware
# names come from `tp-sim list models|hw`, so they follow the installed data.

_tp_sim_names() {
    # first column of `tp-sim list KIND`
    "${COMP_WORDS[0]}" list "$1" 2>/dev/null | awk '{print $1}'
}

_tp_sim() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="estimate layers recommend report validate calibrate fit from-script list"
    local run_opts="--model --hw --tp --tensor-model-parallel-size --cards --pp
        --pipeline-model-parallel-size --dp --seq-len --seq-length --micro-batch
        --micro-batch-size --global-batch --global-batch-size --sp --sequence-parallel --no-sp
        --recompute --recompute-granularity --distributed-optimizer --use-distributed-optimizer
        --no-distributed-optimizer --precision --flash-attention --use-flash-attn
        --no-flash-attention --overlap-grad-reduce --tp-comm-overlap --margin --megatron-args --format --output -o
        --top --tokens --days --published --kernel --hw-prefix --quick --max-error --ops
        --stack --freeze --mean-seq-len --pipeline-layers --num-layer-list --timeout --interval --allow-unmodelled
        --list-flags --help -h"

    # the command: the first word after tp-sim that is not an option
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done

    case $prev in
        --model)
            COMPREPLY=($(compgen -W "$(_tp_sim_names models)" -- "$cur"))
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -f -X '!*.@(yaml|yml|json)' -- "$cur") $(compgen -d -- "$cur"))
            return ;;
        --hw)
            COMPREPLY=($(compgen -W "$(_tp_sim_names hw)" -- "$cur"))
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur"))
            return ;;
        --format)
            COMPREPLY=($(compgen -W "table json csv md" -- "$cur")); return ;;
        --precision)
            COMPREPLY=($(compgen -W "bf16 fp16 fp32" -- "$cur")); return ;;
        --recompute|--recompute-granularity)
            COMPREPLY=($(compgen -W "none selective full" -- "$cur")); return ;;
        --output|-o|--published)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --tp|--tensor-model-parallel-size)
            COMPREPLY=($(compgen -W "1 2 4 8 1,2 1,2,4 1,2,4,8" -- "$cur")); return ;;
        --cards|--pp|--pipeline-model-parallel-size|--dp|--seq-len|--seq-length|--micro-batch|\
        --micro-batch-size|--global-batch|--global-batch-size|--margin|--tokens|--days|\
        --max-error|--megatron-args|--mean-seq-len|--freeze|--param|--timeout|--price|--pipeline-layers|--num-layer-list|--interval)
            return ;;
        --stack)
            COMPREPLY=($(compgen -W "megatron-cuda mindspeed-npu none" -- "$cur"))
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur"))
            return ;;
        --cases|--write)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac

    case $cmd in
        "")
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$run_opts --version" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$commands" -- "$cur"))
            fi ;;
        list)
            COMPREPLY=($(compgen -W "models hw stacks --help" -- "$cur")) ;;
        validate)
            COMPREPLY=($(compgen -W "--published --hw --max-error --format --output -o --help" -- "$cur")) ;;
        recommend)
            COMPREPLY=($(compgen -W "--model --hw --stack --freeze --allow-unmodelled --cards --seq-len --global-batch --precision --margin --top --tp --pp --micro-batch --max-tp --format --output -o --help" -- "$cur")) ;;
        fit)
            COMPREPLY=($(compgen -W "--cases --stack --param --hw --write --format --output -o --help" -- "$cur")) ;;
        layers)
            COMPREPLY=($(compgen -W "$run_opts --ops" -- "$cur")) ;;
        report)
            COMPREPLY=($(compgen -W "$run_opts --tokens --days --price" -- "$cur")) ;;
        from-script)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$run_opts" -- "$cur"))
            else
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -X '!*.sh' -- "$cur") $(compgen -d -- "$cur"))
            fi ;;
        *)
            COMPREPLY=($(compgen -W "$run_opts" -- "$cur")) ;;
    esac
} &&
    complete -F _tp_sim tp-sim
