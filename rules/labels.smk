# Clip tables, one per label protocol. They need the take table and the plan (a
# clip names its shard), never a rendered frame: relabelling reruns only this
# rule and the manifest.
rule labels:
    conda:
        "../envs/synthact.yaml"
    input:
        takes=f"{WORK}/index/takes.jsonl",
        plan=f"{WORK}/plan/plan.json",
    output:
        clips=[str(PATHS.clip_table(p)) for p in PROTOCOLS],
        classes=[str(PATHS.class_table(p)) for p in PROTOCOLS],
    params:
        cfg=params_of("labels"),
    log:
        f"{WORK}/logs/labels.log",
    threads: 1
    shell:
        "synthact labels --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
