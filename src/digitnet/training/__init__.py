"""The training loop and how a step gets its rows: ``fit`` (epochs, callbacks, checkpoints, history),
``step`` (one batch forward and back), ``batches`` (mini-batches), ``fullbatch`` and ``blocked``
(full-batch training on all cores, sparse input without its zero columns)."""
