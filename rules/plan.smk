# The single global checkpoint: the number of shards is only known here.
checkpoint plan:
    conda:
        "../envs/synthact.yaml"
    input:
        takes=f"{WORK}/index/takes.jsonl",
    output:
        plan=f"{WORK}/plan/plan.json",
    params:
        cfg=params_of("plan"),
    log:
        f"{WORK}/logs/plan.log",
    threads: 1
    shell:
        "synthact plan --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
