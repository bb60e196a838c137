"""modedrop: do diversity metrics notice a dropped mode?

A library of pure metric functions on arrays (``modedrop.metrics``), the data sets and index
files of the mode-drop protocol (``modedrop.data``, ``modedrop.design``, ``modedrop.allocation``,
``modedrop.indices``), encoders and the shared HDF5 feature cache (``modedrop.encoders``,
``modedrop.features``), and the aggregation and figures (``modedrop.stats``, ``modedrop.plots*``,
``modedrop.figure_style``) used by the Snakemake study in this repository.
"""

__version__ = "0.1.0"
