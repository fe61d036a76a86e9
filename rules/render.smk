# One job per shard. It only dispatches: one submitit task per view renders
# every take of the shard (a job array on the GPU partition under Slurm, local
# processes otherwise). Per-window results live in a cache folder that is not a
# declared output, so a rerun after a failure resumes instead of starting over.
localrules:
    render,


rule render:
    conda:
        "../envs/synthact.yaml"
    input:
        plan=f"{WORK}/plan/plan.json",
    output:
        done=f"{WORK}/render/{{shard}}.json",
    params:
        cfg=params_of("render"),
    log:
        f"{WORK}/logs/render/{{shard}}.log",
    benchmark:
        f"{WORK}/benchmarks/render/{{shard}}.tsv"
    threads: render_threads()
    shell:
        "synthact render-shard --config-json {CONTENT_CONFIG:q} --dispatch-json {DISPATCH_CONFIG:q}"
        " --shard {wildcards.shard} --threads {threads} 2>&1 | tee {log}"
