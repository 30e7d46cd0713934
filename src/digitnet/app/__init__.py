"""The faces, all on the public API: the ``digitnet`` command (``cli``, ``display``), the model card and
report (``card``, ``report``, ``plots``), the web app (``serve``), the exports (``export``) and the
scikit-learn estimator (``sklearn``). The only code that prints or serves."""
