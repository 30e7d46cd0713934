"""What the pictures are and where they come from: IDX files (``idx``), the data sets known by name
(``registry``, ``datasets``, ``download``), the embedded MNIST (``mnist/``), random distortions
(``augment``) and deskewing (``deskew``)."""
