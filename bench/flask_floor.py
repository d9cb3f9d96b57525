"""The framework floor for single-event ingest: ``bare_app`` behind Flask.

The same one INSERT per request as ``bare_app.py``, routed and answered by Flask, with no
validation, authentication, rate limit, logging or metrics. ``bench/ingest.py`` prints
it beside the bare endpoint, so the cost of the framework and of Auditrail's own work
per request can be told apart.
"""

from __future__ import annotations

from typing import Any

from bare_app import insert_pending
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/")
def ingest() -> Any:
    event_id = insert_pending(request.get_json())
    return jsonify({"id": event_id, "status": "pending"}), 202
