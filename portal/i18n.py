"""User-facing text defined outside a request: the `N_` marker, and errors that carry such text."""


def N_(message: str) -> str:
    """Mark `message` for extraction by pybabel; it is translated later with `gettext(message)`."""
    return message


class UserFacingError(Exception):
    """A refusal whose `message` (marked with `N_`, with `%(name)s` placeholders) is for the user.

    Shown translated: `gettext(error.message, **error.params)`. `str(error)` is the untranslated
    text, for logs.
    """

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
