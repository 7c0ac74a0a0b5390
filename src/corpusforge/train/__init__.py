"""Trainer-ready output: the final corpus tokenized, mixed, split and shuffled.

- ``settings``: the ``train`` config section's cross-field checks (group patterns,
  weights, dtype), done while the workflow is parsed;
- ``tokenize``: one final jsonl file -> its token file and document list;
- ``mixture``: the held-out split, the mixture by group, the shuffle, and
  ``mixture.json``;
- ``formats``: Megatron-LM's indexed dataset (``.bin`` + ``.idx``) and datatrove's
  token files (``.ds``, ``.ds.index``, ``.ds.metadata``).
"""


class TrainError(ValueError):
    """A bad ``train`` setting or tokenizer; the message names the config key."""
