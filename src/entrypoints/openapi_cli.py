"""``auditrail openapi``: the API document this release serves, without serving it."""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path

import click


@click.command()
def openapi() -> None:
    """Print the API document (OpenAPI 3.1) that `GET /api/v1/openapi.json` serves.

    For generating a client, or comparing two releases' contracts, without a server. It
    reads no setting and writes nothing: the app it describes is built in a folder of its
    own, removed after.
    """
    from entrypoints.container.installation import build_container
    from entrypoints.http.app import create_app
    from entrypoints.http.openapi import build_document
    from entrypoints.settings import Settings

    with tempfile.TemporaryDirectory(prefix="auditrail-openapi-") as folder:
        app = create_app(build_container(Settings(data_dir=Path(folder))))
        document = build_document(app, version("auditrail"))
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
