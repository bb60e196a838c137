# Generative-model study 3 (Wu et al., Black-Box Diagnosis and Calibration on GAN Intra-Mode
# Collapse): black-box MCCS diagnosis of a trained generator, then two
# calibrations that only reshape its latent sampling: Algorithm 1 (a Gaussian mixture whose
# weights shun the worst-case dense mode) and Algorithm 2 (rejection sampling around it). The
# calibrated samplers are generators <name>_gmm and <name>_rejection (generated.smk).


rule calibrate_generator:
    input:
        features=f"{RESULTS}/generated/{{generator}}/{CALIBRATION['encoder']}.h5",
        latents=f"{RESULTS}/generated/{{generator}}/latents.npy",
        reference=f"{RESULTS}/generated/{TRAINING_DATA}/{CALIBRATION['encoder']}.h5",
        reference_description=f"{RESULTS}/generated/{TRAINING_DATA}/sample_set.json",
        code=code("calibrate_generator.py"),
    output:
        gmm=f"{RESULTS}/calibration/{{generator}}/gmm_prior.npz",
        rejection=f"{RESULTS}/calibration/{{generator}}/rejection_prior.npz",
        diagnosis=f"{RESULTS}/calibration/{{generator}}/diagnosis.json",
    params:
        calibration=CALIBRATION,
        spec=generator_params,
    priority: 50
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/calibration/{{generator}}_calibrate.log",
    benchmark:
        f"{RESULTS}/benchmarks/calibration/{{generator}}_calibrate.tsv"
    script:
        "../scripts/calibrate_generator.py"


rule evaluate_calibration:
    input:
        diagnosis=f"{RESULTS}/calibration/{{generator}}/diagnosis.json",
        features=calibration_sets,
        images=calibration_images,
        latents=calibration_latents,
        reference=f"{RESULTS}/generated/{TRAINING_DATA}/{CALIBRATION['encoder']}.h5",
        code=code("evaluate_calibration.py"),
    output:
        table=f"{RESULTS}/calibration/{{generator}}/evaluation.csv",
        png=report(
            f"{RESULTS}/figures/calibration_{{generator}}.png",
            caption="../report/calibration.rst",
            category="Generative models",
            subcategory="Calibration",
        ),
        pdf=f"{RESULTS}/figures/calibration_{{generator}}.pdf",
        modes_png=report(
            f"{RESULTS}/figures/calibration_{{generator}}_dense_modes.png",
            caption="../report/calibration.rst",
            category="Generative models",
            subcategory="Calibration",
        ),
        modes_pdf=f"{RESULTS}/figures/calibration_{{generator}}_dense_modes.pdf",
    params:
        calibration=CALIBRATION,
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/calibration/{{generator}}_evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/calibration/{{generator}}_evaluate.tsv"
    script:
        "../scripts/evaluate_calibration.py"


rule calibration_table:
    input:
        reports=calibration_reports,
        code=code("calibration_table.py"),
    output:
        f"{RESULTS}/tables/calibration.csv",
    conda:
        "../../envs/modedrop.yaml"
    log:
        f"{RESULTS}/logs/calibration/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/calibration/table.tsv"
    script:
        "../scripts/calibration_table.py"


rule calibration:
    input:
        calibration_targets(),
