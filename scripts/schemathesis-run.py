"""schemathesis' command line, with one crash of 4.32.5 worked around.

Its link discovery calls `urlsplit` on every string of a 2xx JSON answer that starts with
`http://`, and a malformed one (`http://[x`) raises ValueError, which aborts the whole run. The
run itself stores such strings (a client's redirect URI, a provider's issuer) and reads them
back, so a malformed URL there is ordinary data, not a finding: it is skipped for discovery.
"""

import sys

from schemathesis.cli import schemathesis
from schemathesis.engine import observations

_same_origin_path = observations._same_origin_path


def _tolerant_same_origin_path(value, origin):
    try:
        return _same_origin_path(value, origin)
    except ValueError:
        return None


observations._same_origin_path = _tolerant_same_origin_path

if __name__ == "__main__":
    sys.exit(schemathesis())
