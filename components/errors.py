"""Errors a user can cause. The CLI prints these as one line, without a traceback."""


class UserError(Exception):
    """A mistake the user can fix: bad config, missing file, malformed data."""


class StageFailed(Exception):
    """A stage ran but could not produce its artifact (for example: nothing valid was left)."""
