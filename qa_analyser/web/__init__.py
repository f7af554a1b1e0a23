"""`qa serve`: a local web app over the results database (Starlette + Jinja2, served by uvicorn).

    app.py       routes and page assembly (`create_app`)
    review.py    pure helpers of the call page: speaker turns with items marked, expected windows
    security.py  loopback-or-token bind rule, token check, CSRF, security headers

The web dependencies are imported only by `qa serve` (see docs/web.md).
"""

from __future__ import annotations

from collections.abc import Callable

from .app import create_app
from .security import check_bind

__all__ = ["check_bind", "create_app", "serve"]


def serve(db_path, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          contract_path=None, announce: Callable[[str], None] | None = None) -> None:
    """Serve the app until interrupted (uvicorn). `ConfigError` first when the bind rule refuses or the
    contract file is bad; `announce(url)` once both are checked."""
    import uvicorn

    check_bind(host, token)
    app = create_app(db_path, token=token, contract_path=contract_path)
    if announce is not None:
        announce(f"http://{f'[{host}]' if ':' in host else host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, proxy_headers=False)
