"""A whole run, settings to model file: ``config`` (every setting, checked), ``recipes`` (named
settings and :func:`~digitnet.run.recipes.train`), ``finetune`` (a personal model), ``checkpoint``
(bit-exact resume), ``modelfile`` and ``schema`` (safetensors files and what their metadata may hold)."""
