rule index:
    input:
        demo_inputs,
        fit_inputs,
    output:
        clips=f"{WORK}/index/clips.jsonl",
        report=f"{WORK}/index/report.json",
    params:
        cfg=json.dumps({k: config[k] for k in ("motion", "clips")}, sort_keys=True),
    log:
        f"{WORK}/logs/index.log",
    threads: 1
    shell:
        "synthact index --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
