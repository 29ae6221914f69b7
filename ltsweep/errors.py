"""User-facing errors: one line that names the problem and the fix; the CLI exits 2 on them."""


class UserError(Exception):
    """Bad input from the user (file, key, value, missing data). Printed as one line, exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class CorruptArtifactError(UserError):
    """A file written by ltsweep fails its content check (hash mismatch, truncation)."""


class MissingDatasetError(UserError):
    """A real dataset is not under the data root."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite: the trial stops at once rather than report a wrong number."""
