"""HTTP security headers for every response."""

from flask import Response, request

#: Once a browser has seen the portal over HTTPS it refuses plain HTTP for a year (a fake
#: Wi-Fi portal cannot strip TLS from a resident's next visit).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

# No inline script or style anywhere: everything comes from /static on this origin.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))


def add_security_headers(response: Response) -> Response:
    """Set the CSP and the headers that stop sniffing, framing and referrer leaks."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(self)")
    # Only over HTTPS (behind the proxy: X-Forwarded-Proto, trusted through PROXY_HOPS): over
    # plain HTTP the header is ignored by browsers and would only mislead.
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response
