"""A whole run, settings to model file: ``config`` (every setting, checked), ``recipes`` (named
settings and :func:`~digitnet.run.recipes.train`), ``finetune`` (a personal model), ``checkpoint``
(bit-exact resume), ``personal`` (the set of corrections made on the page, that ``finetune`` learns from),
``modelfile`` and ``schema`` (safetensors files and what their metadata may hold)."""
