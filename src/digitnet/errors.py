"""The errors digitnet raises on bad input. Each message names what was wrong and what was expected."""


class DigitnetError(Exception):
    """Base class: anything digitnet refuses for a reason it can explain."""


class UsageError(DigitnetError, ValueError):
    """A nonsense argument or setting (the CLI exits with status 2)."""


class DataError(DigitnetError):
    """A data file or image that is missing, malformed or not what it claims to be."""


class ModelOutputError(DataError):
    """A model whose outputs are not finite numbers (its weights are finite but huge)."""


class BlankImage(DataError):
    """A picture with no ink on it."""


class ModelFileError(DataError):
    """A model or checkpoint file that cannot be trusted or rebuilt."""


class TrainingDiverged(DigitnetError):
    """The loss or a gradient became NaN or infinite. ``settings``: the settings (``TrainConfig`` names)
    the message advises changing, likeliest first, for a front end to name in its own terms (flags, fields)."""

    def __init__(self, message: str, settings: tuple[str, ...] = ()):
        super().__init__(message)
        self.settings = settings


class OutputError(DigitnetError):
    """A file or directory that cannot be written (the CLI exits with status 1)."""


class ServeError(DigitnetError):
    """The web server cannot start (the port is taken, the address is not this machine's)."""
