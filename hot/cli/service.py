"""`hot serve` and `hot token`: the API and web page, and tokens to call them with."""

from __future__ import annotations

import click

from hot.cli.common import port_option, redis_for_command
from hot.cli.stopping import Stopped, current
from hot.settings import get_settings


@click.command(
    short_help="run the API and web page only", help="Serve the API and web page with uvicorn."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@port_option
@click.option("--workers", type=int, default=1, show_default=True, help="uvicorn worker processes")
def serve(host: str, port: int, workers: int) -> int:
    """Run the API and web page only."""
    from serving.server import serve as serve_api

    stops = current()
    with redis_for_command(get_settings()):
        stops.check()  # asked to stop while Redis was starting
        # uvicorn handles SIGINT and SIGTERM itself: it shuts down gracefully, then (one
        # worker) raises the signal again, which lands in our handler.
        serve_api(host=host, port=port, workers=workers)
    raise Stopped(stops.signum)  # uvicorn returns only once told to stop


@click.command(
    short_help="print a JWT for local use",
    help="Mint a token signed with the configured key (HOT_JWT_SECRET, or the data dir's "
    "local secret).",
)
@click.option("--sub", required=True, help="the user id (JWT sub)")
@click.option("--role", multiple=True, help="a role claim, e.g. moderator (repeatable)")
@click.option("--ttl", type=int, default=3600, show_default=True, help="lifetime in seconds")
def token(sub: str, role: tuple[str, ...], ttl: int) -> int:
    """Print a JWT signed with the configured key, for local use."""
    from serving.core.auth import mint_token

    click.echo(mint_token(get_settings(), sub=sub, roles=role, ttl=ttl))  # plain: for scripts
    return 0
