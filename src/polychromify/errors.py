"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class PolychromifyError(Exception):
    """A problem the user can fix (bad path, bad file, bad option); shown without a traceback."""
