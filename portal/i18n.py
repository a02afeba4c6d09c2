"""Marker for user-facing strings defined outside a request (translated where they are shown)."""


def N_(message: str) -> str:
    """Mark `message` for extraction by pybabel; it is translated later with `gettext(message)`."""
    return message
