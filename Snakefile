# modedrop: do diversity metrics notice a dropped mode?
# Thin entry point: the stages live in workflow/rules/, in the order the data flows.
from snakemake.utils import min_version

min_version("9.0")


# The study is config/config.yaml; a user's `--configfile X` is the whole study instead (X on top
# of the schema's defaults, nothing inherited from config/config.yaml). `--config key=value`
# overrides either.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Under `snakemake --sdm apptainer` every job runs in this image (ignored otherwise): a local .sif
# (default containers/modedrop.sif, built with containers/Apptainer.def; relative to the working
# directory) or a registry URI (docker://..., pulled once into .snakemake/singularity/).
# Before the rule files: a global container applies only to rules defined after it.
container: container_image(config["container"])


include: "workflow/rules/data.smk"
include: "workflow/rules/indices.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/gan_toy.smk"
include: "workflow/rules/gan_dcgan.smk"
include: "workflow/rules/generated.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/attribution.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
