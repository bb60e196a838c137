# Config validation, wildcard constraints and input functions shared by every rule.
import os
import sys
from pathlib import Path

from snakemake.utils import validate

# Import the library from this checkout - at parse time and in every job (jobs inherit the
# environment) - so the code that runs is exactly the code declared as rule input below, also
# in a conda environment or a copy of the workflow.
LIBRARY_ROOT = str(Path(workflow.basedir, "workflow"))
sys.path.insert(0, LIBRARY_ROOT)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (LIBRARY_ROOT, os.environ.get("PYTHONPATH")) if p)
)

from modedrop.config import check_schema, check_semantics, metric_params
from modedrop.indices import CONDITIONS, Experiment, check_feasible

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
check_schema(config, SCHEMA)  # readable errors first; validate() then fills in the defaults
validate(config, schema="../schemas/config.schema.yaml")
check_semantics(config)

DATASET = config["dataset"]
RESULTS = f"results/{DATASET}"
EXPERIMENTS = {
    name: Experiment.from_config(name, block) for name, block in config["experiments"].items()
}
METRICS = sorted(config["metrics"])
ENCODERS = sorted({e for block in config["metrics"].values() for e in block["encoders"]})


wildcard_constraints:
    dataset=DATASET,
    experiment="|".join(EXPERIMENTS),
    seed=r"\d+",
    condition="|".join(CONDITIONS),
    encoder="|".join(ENCODERS),


def lib(*parts):
    """Absolute path of a library module: declared as input so code edits re-run its jobs."""
    return str(Path(workflow.basedir, "workflow", "modedrop", *parts))


# ----- data set -------------------------------------------------------------------------------


def dataset_root():
    return f"{RESULTS}/data"


def dataset_file(name):
    return f"{dataset_root()}/{name}"


def attribute_table():
    """The data set's attribute table, for checks at parse time (before any job runs)."""
    from modedrop.data.celeba_format import read_attributes

    path = Path(dataset_file("list_attr_celeba.txt"))
    if path.exists():
        return read_attributes(path)
    # Not generated yet: the generator's attribute sampling is cheap and gives the same table.
    from modedrop.data.synthfaces import sample_metadata

    block = config["synthfaces"]
    return sample_metadata(block["n_images"], block["n_identities"], block["seed"]).attributes


# An infeasible experiment fails here, before any image is generated or embedded.
_ATTRIBUTES = attribute_table()
for _experiment in EXPERIMENTS.values():
    check_feasible(_ATTRIBUTES, _experiment)


# ----- input functions ------------------------------------------------------------------------


def experiment_params(wildcards):
    """Only this experiment's block: editing another experiment re-runs nothing here."""
    return dict(config["experiments"][wildcards.experiment])


def index_file(wildcards):
    return f"{RESULTS}/indices/{wildcards.experiment}/seed{wildcards.seed}/{wildcards.condition}.txt"


def feature_cache(wildcards):
    return f"{RESULTS}/features/{wildcards.encoder}.h5"


def metric_outputs(metric):
    return expand(
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/{metric}/seed{{seed}}_{{condition}}.json",
        experiment=EXPERIMENTS,
        encoder=config["metrics"][metric]["encoders"],
        seed=config["seeds"],
        condition=CONDITIONS,
    )


def all_metric_outputs(wildcards):
    return [path for metric in METRICS for path in metric_outputs(metric)]


def experiment_figure_targets():
    """(experiment, encoder) pairs that get a figure: every encoder used by some metric."""
    return expand(
        f"{RESULTS}/figures/{{experiment}}_{{encoder}}.{{ext}}",
        experiment=EXPERIMENTS,
        encoder=ENCODERS,
        ext=("png", "pdf"),
    )


def get_final_outputs():
    return [
        f"{RESULTS}/tables/metrics.csv",
        f"{RESULTS}/tables/summary.csv",
        *experiment_figure_targets(),
        f"{RESULTS}/tables/rankme_known_rank.csv",
        f"{RESULTS}/figures/rankme_known_rank.png",
        f"{RESULTS}/figures/rankme_known_rank.pdf",
        f"{RESULTS}/figures/dataset_sample.png",
        f"{RESULTS}/figures/dataset_sample.pdf",
    ]


def experiment_attributes(wildcards):
    return list(EXPERIMENTS[wildcards.experiment].attributes)
