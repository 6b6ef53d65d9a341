#!/usr/bin/env python3
"""The reference SCIM server of scim2-tester's ecosystem (PyPI scim2-server),
in memory, on a port the system picks: the positive control of the
compliance harness. Set up as the `scim2-server --bearer-token` command
does, with RFC 7643's schemas and resource types and every feature
announced. Prints `listening on http://127.0.0.1:PORT/v2` once it serves.

Usage: reference_server.py TOKEN
"""

import sys
from wsgiref.simple_server import make_server

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.testserver.cli import ThreadingWSGIServer
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    token = sys.argv[1]
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=config,
    )
    # A fixed secret: it signs pagination cursors of this one process only.
    service = ScimService(provider, secret="reference-server-of-the-test-suite")
    app = BearerTokenApplication(
        InMemoryStorage(), provider, service=service, bearer_tokens=[token]
    )
    with make_server("127.0.0.1", 0, app, server_class=ThreadingWSGIServer) as server:
        print(f"listening on http://127.0.0.1:{server.server_port}/v2", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
