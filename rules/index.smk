# The take table: every sequence x repetition, its frames at the target rate, its source labels.
rule index:
    conda:
        "../envs/synthact.yaml"
    input:
        demo_inputs,
        fit_inputs,
    output:
        takes=f"{WORK}/index/takes.jsonl",
        report=f"{WORK}/index/report.json",
    params:
        cfg=params_of("index"),
    log:
        f"{WORK}/logs/index.log",
    threads: 1
    shell:
        "synthact index --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
