# Statistics and previews of a finished run, for `snakemake --report report.html`.
# Not in `rule all` unless report.enabled: ask for them with the target
# `consume_report`, then `snakemake --report report.html consume_report` embeds them
# (--report describes the DAG of its targets).
REPORT = f"{OUT}/report"
STATS_PLOTS = ["durations", "camera", "body", "appearance", "modalities"]


rule stats:
    input:
        manifest=f"{OUT}/manifest.json",
    output:
        json=f"{REPORT}/stats/stats.json",
        plots=[
            report(f"{REPORT}/stats/{name}.png", category="Statistics")
            for name in STATS_PLOTS + [f"classes_{p}" for p in PROTOCOLS]
        ],
    log:
        f"{WORK}/logs/stats.log",
    shell:
        "synthact stats \"$(dirname {input.manifest:q})\" \"$(dirname {output.json:q})\" 2>&1 | tee {log}"


rule preview:
    input:
        manifest=f"{OUT}/manifest.json",
    output:
        page=f"{REPORT}/preview/index.html",
        clips=report(
            directory(f"{REPORT}/preview/clips"),
            patterns=["{name}.mp4"],
            category="Previews",
            subcategory="clips: RGB | depth | parts | skeleton",
        ),
        sheets=report(
            directory(f"{REPORT}/preview/sheets"),
            patterns=["{name}.png"],
            category="Previews",
            subcategory="contact sheets: views x frames",
        ),
    params:
        max_clips=config["report"]["max_clips"],
    log:
        f"{WORK}/logs/preview.log",
    shell:
        "synthact preview \"$(dirname {input.manifest:q})\" \"$(dirname {output.page:q})\""
        " --max-clips {params.max_clips} --quiet 2>&1 | tee {log}"


rule consume_report:
    input:
        rules.stats.output,
        rules.preview.output,
