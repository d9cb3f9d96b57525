"""The one composition root: the only package that chooses and imports adapters.

A container a module, so that a command loads only the adapters it runs with:

- ``installation``: ``Container``, what ``serve``, ``worker`` and the operator's commands
  run with, every adapter chosen by the settings;
- ``witness``: ``WitnessContainer``, ``auditrail witness serve``'s key and memory;
- ``offline``: ``OfflineContainer``, the signature checks of ``auditrail verify`` and
  ``auditrail log monitor``, which read files and a log over HTTP, never the installation;
- ``folders``: the data folder's owner-only folders, which ``serve`` makes before loading
  the installation.

Nothing is imported here: importing the installation's adapters (SQLAlchemy, Alembic,
Redis, RQ, httpx, Prometheus, geoip2) takes about a second, which a command that needs
none of them should not wait for.
"""
