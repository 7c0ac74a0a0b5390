"""What a build tells its readers: plots, a Hugging Face dataset card, a provenance manifest.

Everything here reads the gathered ``results/stats/summary.json``
(``corpusforge.stats``) and the final jsonl files, whatever stages the build had.

- ``plots``: the report's figures (PNG);
- ``card`` and ``card_sections``: the dataset card (README.md beside the corpus),
  built from the Markdown pieces in ``markdown``;
- ``provenance``: the manifest (config hash, package versions, checksums).
"""

from .card import dataset_card, write_dataset_card
from .plots import PLOT_SPECS, PLOTS, draw_plot, draw_plots, plot_names
from .provenance import MODEL_INPUT_NAMES, config_hash, manifest, resolve_inputs, write_manifest

__all__ = [
    "MODEL_INPUT_NAMES",
    "PLOTS",
    "PLOT_SPECS",
    "config_hash",
    "dataset_card",
    "draw_plot",
    "draw_plots",
    "manifest",
    "plot_names",
    "resolve_inputs",
    "write_dataset_card",
    "write_manifest",
]
