# The fit stage (motion.source: ntu or smarthome): SMPL-H fitted to every skeleton file,
# written as AMASS npz + BABEL labels that the index reads (synthact/fitting/convert.py).
# Its motion files are not declared outputs: Snakemake would delete them before a rerun,
# and they make the stage resumable. New skeleton files are not noticed by Snakemake:
# rerun with --forcerun fit (finished samples are skipped).
from synthact.fitting.convert import fit_outputs

FIT_OUTPUTS = fit_outputs(config) if config["motion"]["source"] != "amass" else None


if FIT_OUTPUTS is not None:

    rule fit:
        conda:
            "../envs/synthact.yaml"
        output:
            labels=FIT_OUTPUTS["labels"],
            report=FIT_OUTPUTS["report"],
            splits=FIT_OUTPUTS["splits"],
        params:
            cfg=fit_params(config),
        log:
            f"{WORK}/logs/fit.log",
        # Scaled down to --cores locally; under Slurm, the CPUs the job asks for.
        threads: 16
        resources:
            # Rule resources win over the profile's default-resources (1 CPU, 60 min).
            # NTU RGB+D 120 is ~114k samples at a few CPU seconds each; if the time
            # limit still strikes, a retry resumes where the job stopped.
            cpus_per_task=lambda wildcards, threads: threads,
            mem_mb=lambda wildcards, threads: 2000 + 1000 * threads,
            runtime=1440,
        shell:
            "synthact fit --config-json {CONTENT_CONFIG:q} --workers {threads} 2>&1 | tee {log}"
