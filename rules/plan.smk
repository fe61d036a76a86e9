# The single global checkpoint: the number of shards is only known here.
checkpoint plan:
    input:
        clips=f"{WORK}/index/clips.jsonl",
    output:
        plan=f"{WORK}/plan/plan.json",
    params:
        cfg=json.dumps({k: config[k] for k in ("seed", "plan", "rig", "render")}, sort_keys=True),
    log:
        f"{WORK}/logs/plan.log",
    threads: 1
    shell:
        "synthact plan --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
