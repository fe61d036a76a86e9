rule merge:
    conda:
        "../envs/synthact.yaml"
    input:
        damaged_shard_moved_aside,
        done=f"{WORK}/render/{{shard}}.json",
        plan=f"{WORK}/plan/plan.json",
    output:
        shard=f"{OUT}/shards/{{shard}}.h5",
    params:
        cfg=params_of("merge"),
    log:
        f"{WORK}/logs/merge/{{shard}}.log",
    threads: 1
    resources:
        mem_mb=4000,
    shell:
        "synthact merge --config-json {CONTENT_CONFIG:q} --shard {wildcards.shard} 2>&1 | tee {log}"
