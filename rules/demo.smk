# The built-in, licence-free inputs, generated in the real file formats.
DEMO_STAMP = f"{config['demo']['data_dir']}/synthact-demo.json"


rule demo_data:
    conda:
        "../envs/synthact.yaml"
    output:
        stamp=DEMO_STAMP,
    params:
        cfg=params_of("demo_data"),
    log:
        f"{WORK}/logs/demo_data.log",
    threads: 1
    shell:
        "synthact demo-data --config-json {CONTENT_CONFIG:q} 2>&1 | tee {log}"
