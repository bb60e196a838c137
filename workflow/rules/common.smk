# Config validation, wildcard constraints and input functions shared by every rule.
import os
import sys
from pathlib import Path

from snakemake.utils import update_config, validate

# Import the library from this checkout - at parse time and in every job (jobs inherit the
# environment) - so the code that runs is exactly the code declared as rule input below, also
# in a conda environment or a copy of the workflow.
LIBRARY_ROOT = str(Path(workflow.basedir, "workflow"))
sys.path.insert(0, LIBRARY_ROOT)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (LIBRARY_ROOT, os.environ.get("PYTHONPATH")) if p),
    # Jobs draw figures into files, never on a screen: the library leaves the backend alone.
    MPLBACKEND="Agg",
)

from modedrop.config import (
    canonicalise,
    check_schema,
    check_semantics,
    metric_params,
    resolve_paired_encoders,
    typed_overrides,
)
from modedrop.dependencies import code_files
from modedrop.design import Design, Experiment, InfeasibleExperimentError
from modedrop.reference import check_experiment
from modedrop.metrics import METRICS as METRIC_SPECS, PIXELS

# `--config key=value` overrides: typed like the YAML of a config file, then applied again.
update_config(config, typed_overrides(dict(workflow.config_settings.config)))

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
try:  # validate() fills in the defaults; on a bad config, list every problem readably instead
    validate(config, schema="../schemas/config.schema.yaml")
except WorkflowError:
    check_schema(config, SCHEMA)
    raise
resolve_paired_encoders(config)
check_semantics(config)
canonicalise(config)  # key order is not part of a study: it changes no params and no plan

DATASET = config["dataset"]
RESULTS = f"results/{DATASET}"
EXPERIMENTS = {
    name: Experiment.from_config(name, block) for name, block in config["experiments"].items()
}
DESIGN = Design.from_config(config)
CONDITIONS = DESIGN.conditions
METRICS = sorted(config["metrics"])
FEATURE_ENCODERS = sorted(
    {e for block in config["metrics"].values() for e in block.get("encoders", [])}
)
# Pixel-space metrics (MS-SSIM) appear under the pseudo-encoder "pixels" in tables and paths.
ENCODERS = FEATURE_ENCODERS + [PIXELS] * any(
    METRIC_SPECS[m].input == "pixels" for m in METRICS
)
FIRST_SEED = config["seeds"][0]


# ----- generative-model studies (Mehta; Martina-Perez; Wu et al.) ----------------------------
# The toy study does not depend on the image data set: its results are shared by every config.
TOY_RESULTS = "results/gan_toy"
TOY = config["gan_toy"]
DCGAN = config["gan_dcgan"]
GENERATED = config["generated"]
CALIBRATION = config["calibration"]
CALIBRATIONS = ("gmm", "rejection")  # Algorithms 1 and 2 of Wu et al.
TRAINING_DATA = "training_data"  # the sample set of real training images, at GAN resolution


# Generator names: dcgan_z<latent> (the DCGAN runs), the user's `generators`, and the samplers
# <name>_gmm / <name>_rejection calibrated from them.
DCGAN_GENERATORS = [f"dcgan_z{latent}" for latent in DCGAN["latent_dims"]]
SCORED_GENERATORS = (
    DCGAN_GENERATORS if GENERATED["generators"] is None else list(GENERATED["generators"])
)
BASE_GENERATORS = set(DCGAN_GENERATORS) | set(config["generators"])
CALIBRATED_GENERATORS = [f"{g}_{c}" for g in CALIBRATION["generators"] for c in CALIBRATIONS]
ATTRIBUTION = config["attribution"]
ATTRIBUTION_ENCODERS = sorted(ATTRIBUTION["encoders"])
ATTRIBUTED_GENERATORS = sorted(ATTRIBUTION["generators"])
GAN_ENCODERS = sorted(
    set(GENERATED["encoders"])
    | {CALIBRATION["encoder"]}
    | (set(ATTRIBUTION_ENCODERS) if ATTRIBUTED_GENERATORS else set())
)
GENERATOR_PATTERN = "|".join(
    sorted(BASE_GENERATORS | set(CALIBRATED_GENERATORS), key=len, reverse=True)
)
# Two kinds of generator, made by different rules: a folder of samples (`images:`, packed by
# folder_sample_set) and a network (sampled by generate_sample_set).
FOLDER_GENERATORS = sorted(g for g, spec in config["generators"].items() if "images" in spec)
NETWORK_GENERATORS = sorted(BASE_GENERATORS.union(CALIBRATED_GENERATORS) - set(FOLDER_GENERATORS))


def name_pattern(names):
    """A wildcard regex matching exactly ``names`` (longest first); one that never matches
    when there are none."""
    return "|".join(sorted(names, key=len, reverse=True)) or "(?!x)x"


wildcard_constraints:
    dataset=DATASET,
    experiment="|".join(EXPERIMENTS),
    seed=r"\d+",
    condition="|".join(CONDITIONS),
    encoder="|".join(ENCODERS),
    toy="|".join(TOY["datasets"]),
    latent=r"\d+",
    generator=GENERATOR_PATTERN,
    sample_set=f"{GENERATOR_PATTERN}|{TRAINING_DATA}",
    gan_encoder="|".join(GAN_ENCODERS),
    calibration="|".join(CALIBRATIONS),


def library_file(*parts):
    """Absolute path of a file of the library (a data file a rule reads, e.g. statistics)."""
    return str(Path(LIBRARY_ROOT, "modedrop", *parts))


def code(script, *modules):
    """A rule's code inputs: its script and every library module the script imports, directly
    or not, read from the import statements at parse time (modedrop.dependencies). Editing a
    module re-runs exactly the jobs that execute it. ``modules``: ones the script imports by
    name at run time (the generic metric script's evaluate module)."""
    return code_files(Path(workflow.basedir, "workflow", "scripts", script), LIBRARY_ROOT, modules)


# ----- data set -------------------------------------------------------------------------------
# Every data set is a folder in CelebA's layout: the three text files and img_align_celeba/ (or
# img_align_celeba.zip). synthfaces is generated under results/; celeba and celeba_format are
# used in place; a CelebA download goes to data/celeba (torchvision's layout).

CELEBA_DOWNLOAD_DIR = "data/celeba"
DATASET_FILE_KEYS = ("attributes", "partition", "identities", "images")
NEEDS_DOWNLOAD = False  # set by dataset_files(): celeba with no copy yet, download allowed


def _celeba_layout(root):
    from modedrop.data.celeba_format import ATTRIBUTE_FILE, IDENTITY_FILE, IMAGE_DIR, PARTITION_FILE

    names = (ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE, IMAGE_DIR)
    return {key: f"{root}/{name}" for key, name in zip(DATASET_FILE_KEYS, names)}


def _located(root, official=True):
    """The files of an existing CelebA-format folder; fails listing what is missing, where,
    and which config key (celeba.root or celeba_format.root) to set."""
    from modedrop.data.celeba import locate_celeba

    files = locate_celeba(root, official=official)
    return {key: str(getattr(files, key)) for key in DATASET_FILE_KEYS}


def dataset_files():
    """Paths of the data set's files, checked at parse time where they already exist."""
    global NEEDS_DOWNLOAD
    if DATASET == "synthfaces":
        return _celeba_layout(f"{RESULTS}/data")
    root = config[DATASET]["root"]
    if DATASET == "celeba_format":
        if root is None:  # nothing to download: only the user knows where the folder is
            from modedrop.data.celeba import DatasetNotFoundError, missing_celeba_message

            raise DatasetNotFoundError(missing_celeba_message(None, official=False))
        return _located(root, official=False)
    if root is not None:
        return _located(root)
    from modedrop.data.celeba import DatasetNotFoundError

    try:
        return _located(CELEBA_DOWNLOAD_DIR)
    except DatasetNotFoundError:
        if not config["celeba"]["download"]:
            from modedrop.data.celeba import missing_celeba_message

            raise DatasetNotFoundError(missing_celeba_message(None)) from None
    NEEDS_DOWNLOAD = True
    return _celeba_layout(CELEBA_DOWNLOAD_DIR)  # built by rule download_celeba


DATA = dataset_files()
MANIFEST = f"{RESULTS}/data/manifest.json"


def attribute_table():
    """The data set's attribute table, for checks at parse time (before any job runs)."""
    from modedrop.data.celeba_format import read_attributes

    path = Path(DATA["attributes"])
    if path.exists():
        return read_attributes(path)
    if DATASET != "synthfaces":
        return None  # to be downloaded: build_indices checks feasibility on the real file
    # Not generated yet: the generator's attribute sampling is cheap and gives the same table.
    from modedrop.data.synthfaces_metadata import sample_metadata

    block = config["synthfaces"]
    return sample_metadata(block["n_images"], block["n_identities"], block["seed"]).attributes


def check_design(attributes):
    """Every experiment feasible with its held-out reference, for every seed.

    A balanced reference takes the same number of images from every cell whatever the seed, so
    one seed decides; a natural reference leaves slightly different cell counts per seed, so an
    infeasible experiment is reported for the seed that allows the smallest size: the size the
    message suggests then fits every seed, and one edit of the config fixes it.
    """
    natural = DESIGN.reference_distribution == "natural"
    seeds = config["seeds"] if natural else config["seeds"][:1]
    for experiment in EXPERIMENTS.values():
        failures = []
        for seed in seeds:
            try:
                check_experiment(attributes, experiment, DESIGN, seed)
            except InfeasibleExperimentError as error:
                failures.append((error.largest if error.largest is not None else -1, seed, error))
        if failures:
            _, seed, error = min(failures, key=lambda failure: failure[:2])
            which = f"seed {seed}'s natural" if natural else "the experiment's balanced"
            size = DESIGN.reference_size_for(experiment)
            raise InfeasibleExperimentError(
                f"{error} (Checked with {which} held-out reference of {size} images excluded: "
                "a smaller reference.size also leaves more images.)",
                error.largest,
            ) from None


# An infeasible experiment fails here, before any image is generated or embedded.
_ATTRIBUTES = attribute_table()
if _ATTRIBUTES is not None:
    check_design(_ATTRIBUTES)


# ----- input functions ------------------------------------------------------------------------


def encoder_settings(wildcards):
    """An encoder's own block: its weights file and reference SHA-256 (None: the defaults)."""
    block = config["encoders"].get(wildcards.encoder) or {}
    return {"weights": block.get("weights"), "sha256": block.get("sha256")}


def configured_weights_input(wildcards):
    """A configured weights file is an input: replacing it re-embeds with the new weights."""
    path = encoder_settings(wildcards)["weights"]
    return [path] if path else []


def experiment_params(wildcards):
    """Only this experiment's block: editing another experiment re-runs nothing here."""
    return dict(config["experiments"][wildcards.experiment])


def design_params(wildcards):
    """The blocks that shape every experiment's conditions: reference, doses, collapse."""
    return {key: config[key] for key in ("reference", "dose_response", "intra_mode_collapse")}


def reference_index(wildcards):
    """The held-out reference of one (experiment, seed), written by build_indices."""
    return f"{RESULTS}/indices/{wildcards.experiment}/seed{wildcards.seed}/reference.txt"


def condition_indices(wildcards):
    """Every condition's index file of one (experiment, seed)."""
    return [
        f"{RESULTS}/indices/{wildcards.experiment}/seed{wildcards.seed}/{condition}.txt"
        for condition in CONDITIONS
    ]


def feature_cache(wildcards):
    return f"{RESULTS}/features/{wildcards.encoder}.h5"


def metric_encoders(metric):
    block = config["metrics"][metric]
    return [PIXELS] if METRIC_SPECS[metric].input == "pixels" else block["encoders"]


def metric_outputs(metric):
    return expand(
        f"{RESULTS}/metrics/{{experiment}}/{{encoder}}/{metric}/seed{{seed}}.json",
        experiment=EXPERIMENTS,
        encoder=metric_encoders(metric),
        seed=config["seeds"],
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


def figure(name):
    return [f"{RESULTS}/figures/{name}.png", f"{RESULTS}/figures/{name}.pdf"]


def per_family_figures(prefix, family):
    """One figure per (experiment, encoder) of a family, when the family is configured."""
    if family not in METRICS:
        return []
    return [
        path
        for experiment in EXPERIMENTS
        for encoder in metric_encoders(family)
        for path in figure(f"{prefix}_{experiment}_{encoder}")
    ]


def get_final_outputs():
    """The targets of the default target all: the studies named in config key `studies`."""
    studies = set(config["studies"])
    return [
        *(mode_drop_targets() if "mode_drop" in studies else []),
        *(toy_targets() if "gan_toy" in studies else []),
        *(dcgan_targets() if "gan_dcgan" in studies else []),
        *(calibration_targets() if "calibration" in studies else []),
        *(attribution_targets() if "attribution" in studies else []),
    ]


def mode_drop_targets():
    return [
        f"{RESULTS}/tables/metrics.csv",
        f"{RESULTS}/tables/summary.csv",
        f"{RESULTS}/tables/detection.csv",
        *experiment_figure_targets(),
        *figure("detection_heatmap"),
        *(path for e in EXPERIMENTS for path in figure(f"dose_response_{e}")),
        *(path for e in EXPERIMENTS if DESIGN.collapse for path in figure(f"collapse_response_{e}")),
        *per_family_figures("ndb_bins", "ndb"),
        *per_family_figures("duplicate_pairs", "duplicates"),
        f"{RESULTS}/tables/rankme_known_rank.csv",
        *figure("rankme_known_rank"),
        *figure("dataset_sample"),
        *paper_figure_targets(),
        f"{RESULTS}/tables/null_calibration.csv",
        *figure("null_calibration"),
        f"{RESULTS}/tables/headline.csv",
        *figure("headline"),
    ]


def paper_figure_targets():
    """Haratian (2024)'s Figures 2-5: RankMe and IS on the same encoder, per experiment."""
    if not {"rankme", "inception_score_features"} <= set(METRICS):
        return []
    return expand(
        f"{RESULTS}/figures/paper/{{experiment}}_{{encoder}}.{{ext}}",
        experiment=EXPERIMENTS,
        encoder=config["metrics"]["rankme"]["encoders"],
        ext=("png", "pdf"),
    )


def duplicates_figure_condition():
    """The condition whose most similar pairs are shown: the strongest collapse, if any."""
    collapse = [c for c in CONDITIONS if c.startswith("collapse")]
    return collapse[-1] if collapse else "unbiased"


def experiment_attributes(wildcards):
    return list(EXPERIMENTS[wildcards.experiment].attributes)


# ----- software environment -------------------------------------------------------------------


def container_image(image):
    """The --sdm apptainer image; a missing local file fails now, not in the first job."""
    from snakemake_interface_executor_plugins.settings import DeploymentMethod

    settings = getattr(workflow, "deployment_settings", None)
    apptainer = settings is not None and DeploymentMethod.APPTAINER in settings.deployment_method
    if apptainer and "://" not in image and not Path(image).exists():
        raise WorkflowError(
            f"container image {image!r} not found (config key `container`). Build it from the "
            "checkout root with `apptainer build containers/modedrop.sif "
            "containers/Apptainer.def`, or use a registry image: --config "
            "container=docker://OWNER/modedrop:0.1.0 (see containers/README.md)."
        )
    return image


def check_generator_names():
    """Every generator named for scoring or calibration exists (a DCGAN run or `generators`)."""
    unknown = sorted((set(SCORED_GENERATORS) | set(CALIBRATION["generators"])) - BASE_GENERATORS)
    if unknown:
        raise ValueError(
            f"unknown generator(s) {unknown} in generated.generators or calibration.generators; "
            f"known: {sorted(BASE_GENERATORS)} (DCGAN runs are dcgan_z<latent> for "
            "gan_dcgan.latent_dims; add your own under `generators:`)."
        )
    folders = sorted(set(CALIBRATION["generators"]) & set(FOLDER_GENERATORS))
    if folders:
        raise ValueError(
            f"calibration.generators names folder generator(s) {folders} (`images:` in "
            "`generators:`); calibration reshapes a network's latent prior, and a folder of "
            "samples has no latent codes. Remove them from calibration.generators (they can be "
            "scored: generated.generators)."
        )
    from modedrop.sample_folder import check_sample_source, minimum_images

    # Every folder is checked before any job runs; scoring needs more images than attribution.
    for name in FOLDER_GENERATORS:
        spec = config["generators"][name]
        minimum = minimum_images(GENERATED) if name in SCORED_GENERATORS else 1
        check_sample_source(spec["images"], name, minimum, max_images=spec.get("max_images"))


check_generator_names()


# ----- attribution: which attributes a sample set lacks -----------------------------------------


def probe_attributes():
    """The attributes with a probe: synthfaces' visible ones (the others are not drawn), every
    attribute of a CelebA-format table."""
    if DATASET == "synthfaces":
        from modedrop.data.synthfaces_metadata import VISIBLE_ATTRIBUTES

        return list(VISIBLE_ATTRIBUTES)
    table = attribute_table()
    if table is None:  # CelebA not downloaded yet: the official attribute names
        from modedrop.data.celeba_format import ATTRIBUTE_NAMES

        return list(ATTRIBUTE_NAMES)
    return list(table.columns)


def check_attribution():
    """The probes read data-set caches that a metric builds; attributed sets must exist."""
    missing = sorted(set(ATTRIBUTION_ENCODERS) - set(FEATURE_ENCODERS))
    if missing:
        raise ValueError(
            f"attribution.encoders {missing} have no feature cache: the probes read the caches "
            f"of the metrics' encoders {FEATURE_ENCODERS}; use one of those or add the encoder "
            "to a metric's encoders."
        )
    unknown = sorted(set(ATTRIBUTED_GENERATORS) - BASE_GENERATORS - set(CALIBRATED_GENERATORS))
    if unknown:
        raise ValueError(
            f"unknown generator(s) {unknown} in attribution.generators; known: "
            f"{sorted(BASE_GENERATORS | set(CALIBRATED_GENERATORS))} (a folder of samples is "
            "a generator too: `generators: {my_samples: {images: path/to/folder}}`)."
        )


check_attribution()
PROBE_ATTRIBUTES = probe_attributes()
ATTRIBUTION_SETTINGS = {
    key: ATTRIBUTION[key]
    for key in ("C", "max_iter", "folds", "seed", "min_auroc", "threshold", "bootstrap", "alpha")
}
# The experiments' target attributes: their combinations are attributed as groups.
ATTRIBUTION_GROUPS = {name: list(e.attributes) for name, e in EXPERIMENTS.items()}


def attribution_targets():
    if not ATTRIBUTION_ENCODERS:
        return []
    return [
        f"{RESULTS}/tables/attribute_probes.csv",
        f"{RESULTS}/tables/attribution.csv",
        f"{RESULTS}/tables/attribution_validation.csv",
        *expand(
            f"{RESULTS}/figures/attribution/generated/{{generator}}_{{encoder}}.{{ext}}",
            generator=ATTRIBUTED_GENERATORS,
            encoder=ATTRIBUTION_ENCODERS,
            ext=("png", "pdf"),
        ),
        *expand(
            f"{RESULTS}/figures/attribution/conditions/{{experiment}}_{{condition}}_{{encoder}}"
            ".{ext}",
            experiment=EXPERIMENTS,
            condition=CONDITIONS,
            encoder=ATTRIBUTION_ENCODERS,
            ext=("png", "pdf"),
        ),
    ]


def toy_runs(toy):
    return expand(
        f"{TOY_RESULTS}/{toy}/z{{latent}}/history.csv", latent=TOY["latent_dims"]
    )


def toy_run_histories(wildcards):
    return [path for toy in TOY["datasets"] for path in toy_runs(toy)]


def toy_snapshots(wildcards):
    return expand(
        f"{TOY_RESULTS}/{wildcards.toy}/z{{latent}}/snapshots.npz", latent=TOY["latent_dims"]
    )


def toy_targets():
    return [
        f"{TOY_RESULTS}/tables/toy_gan_summary.csv",
        f"{TOY_RESULTS}/tables/toy_gan_final.csv",
        *expand(
            f"{TOY_RESULTS}/figures/toy_{{toy}}_{{kind}}.{{ext}}",
            toy=TOY["datasets"],
            kind=("snapshots", "curves"),
            ext=("png", "pdf"),
        ),
    ]


def dcgan_run_files(name):
    return expand(f"{RESULTS}/gan/dcgan/z{{latent}}/{name}", latent=DCGAN["latent_dims"])


def dcgan_targets():
    return [
        f"{RESULTS}/tables/dcgan_ndb.csv",
        *figure("dcgan_ndb_curves"),
        *figure("dcgan_samples"),
        *figure("dcgan_largest_bin"),
        f"{RESULTS}/tables/generator_scores.csv",
    ]


def calibration_targets():
    return [
        f"{RESULTS}/tables/calibration.csv",
        *(path for g in CALIBRATION["generators"] for path in figure(f"calibration_{g}")),
        *(
            path
            for g in CALIBRATION["generators"]
            for path in figure(f"calibration_{g}_dense_modes")
        ),
    ]


def generator_spec(name):
    """The interface block of a generator: a DCGAN run, a user's generator, or a calibrated
    sampler (its base generator with the calibrated prior file)."""
    for method in CALIBRATIONS:
        if name.endswith(f"_{method}") and name[: -len(method) - 1] in CALIBRATION["generators"]:
            base = name[: -len(method) - 1]
            return {**generator_spec(base), "prior": calibrated_prior(base, method)}
    if name in FOLDER_GENERATORS:
        raise ValueError(
            f"generator {name!r} is a folder of samples (`images:`), not a network: its sample "
            "set is packed by rule folder_sample_set, never sampled."
        )
    if name in config["generators"]:
        return dict(config["generators"][name])
    latent = int(name.removeprefix("dcgan_z"))
    return {
        "torchscript": f"{RESULTS}/gan/dcgan/z{latent}/generator.pt",
        "latent_dim": latent,
        "prior": "normal",
        "output_range": [-1.0, 1.0],
    }


def calibrated_prior(base, method):
    return f"{RESULTS}/calibration/{base}/{method}_prior.npz"


def generator_params(wildcards):
    return generator_spec(wildcards.generator)


def generator_files(wildcards):
    """Files a generator is made of: a TorchScript network and a calibrated prior, if any."""
    spec = generator_spec(wildcards.generator)
    files = [spec["torchscript"]] if "torchscript" in spec else []
    if spec.get("prior", "normal") not in ("normal", "uniform"):
        files.append(spec["prior"])
    return files


def folder_generator_params(wildcards):
    """Where a folder generator's images are and how many to keep (null: all)."""
    spec = config["generators"][wildcards.generator]
    return {"images": spec["images"], "max_images": spec.get("max_images")}


def folder_generator_files(wildcards):
    """The image files of a folder generator (adding or editing one re-packs the set), or the
    zip that holds them."""
    from modedrop.sample_folder import list_sample_images

    images = Path(config["generators"][wildcards.generator]["images"])
    if not images.is_dir():
        return [str(images)]
    return [str(images / name) for name in list_sample_images(images)]


def scored_sets(wildcards):
    return expand(
        f"{RESULTS}/generated/{{generator}}/scores_{{encoder}}.json",
        generator=SCORED_GENERATORS,
        encoder=GENERATED["encoders"],
    )


def calibration_sets(wildcards):
    """The identity features of the generator and of its two calibrated samplers."""
    names = [wildcards.generator] + [f"{wildcards.generator}_{c}" for c in CALIBRATIONS]
    return [f"{RESULTS}/generated/{n}/{CALIBRATION['encoder']}.h5" for n in names]


def _calibration_files(wildcards, name):
    names = [wildcards.generator] + [f"{wildcards.generator}_{c}" for c in CALIBRATIONS]
    return [f"{RESULTS}/generated/{n}/{name}" for n in names]


def calibration_images(wildcards):
    """The images of the generator and of its calibrated samplers (original first)."""
    return _calibration_files(wildcards, "images.zip")


def calibration_latents(wildcards):
    return _calibration_files(wildcards, "latents.npy")


def calibration_reports(wildcards):
    return expand(
        f"{RESULTS}/calibration/{{generator}}/evaluation.csv", generator=CALIBRATION["generators"]
    )
