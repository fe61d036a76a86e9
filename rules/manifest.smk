rule manifest:
    conda:
        "../envs/synthact.yaml"
    input:
        shards=planned_shard_files,
        labels=label_tables(),
    output:
        manifest=f"{OUT}/manifest.json",
        checksums=f"{OUT}/SHA256SUMS",
        card=f"{OUT}/README.md",
    params:
        cfg=params_of("manifest"),
    log:
        f"{WORK}/logs/manifest.log",
    threads: 1
    shell:
        "synthact manifest --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
