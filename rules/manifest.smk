rule manifest:
    input:
        shards=lambda wildcards: [str(PATHS.shard_file(s)) for s in planned_shards()],
    output:
        manifest=f"{OUT}/manifest.json",
        checksums=f"{OUT}/SHA256SUMS",
    log:
        f"{WORK}/logs/manifest.log",
    threads: 1
    shell:
        "synthact manifest --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
