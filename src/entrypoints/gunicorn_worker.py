"""gunicorn's thread worker, answering the requests it rejects itself in the contract's
error shape (§2) instead of its own HTML page.

gunicorn parses HTTP before the app sees anything, so a malformed request line, an
oversized header or a broken chunked body never reaches Flask's error handlers. Its own
answer quotes the offending request line; ours names only the kind of fault, so nothing a
client sent (a signed link's query string, say) is echoed into a response or a log line.
"""

from __future__ import annotations

import json
import ssl
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker

from entrypoints.http.errors import INTERNAL_MESSAGE, code_for_status
from entrypoints.http.metrics import observe_request

_REJECTIONS: tuple[tuple[type[Exception] | tuple[type[Exception], ...], int, str], ...] = (
    # An invalid header the app tried to send is the server's fault, not the client's.
    ((errors.InvalidResponseHeader, errors.InvalidResponseHeaderName), 500, INTERNAL_MESSAGE),
    (errors.LimitRequestLine, 414, "The request line is longer than this server accepts."),
    (errors.LimitRequestHeaders, 431, "The request headers are larger or more numerous than "
                                      "this server accepts."),
    (errors.UnsupportedTransferCoding, 501, "Unsupported Transfer-Encoding; send the body "
                                            "plain or chunked."),
    (errors.ExpectationFailed, 417, "Unsupported Expect header; only 100-continue is "
                                    "understood."),
    ((errors.InvalidChunkSize, errors.ChunkMissingTerminator, errors.InvalidChunkExtension),
     400, "Malformed chunked request body."),
    ((errors.InvalidHeader, errors.InvalidHeaderName, errors.ObsoleteFolding,
      errors.InvalidSchemeHeaders), 400, "Malformed request header."),
    ((errors.InvalidRequestLine, errors.InvalidRequestMethod, errors.InvalidHTTPVersion,
      errors.InvalidH2CPreface), 400, "Malformed request line."),
    (errors.ParseException, 400, "Malformed HTTP request."),
    (ssl.SSLError, 400, "The TLS connection failed."),
)
_INTERNAL = (500, INTERNAL_MESSAGE)


def rejection(exc: BaseException) -> tuple[int, str]:
    """The status and message for what gunicorn raised; anything unknown is a 500."""
    for kinds, status, message in _REJECTIONS:
        if isinstance(exc, kinds):
            return status, message
    return _INTERNAL


def error_bytes(status: int, message: str, request_id: str) -> bytes:
    """A whole HTTP/1.1 response; the connection is closed after it, as gunicorn does."""
    body = json.dumps({"error": {"code": code_for_status(status), "message": message,
                                 "request_id": request_id}}).encode()
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-Id: {request_id}\r\n\r\n")
    return head.encode("ascii") + body


class ThreadWorker(GunicornThreadWorker):
    def is_parent_alive(self) -> bool:
        """An orphan (its master SIGKILLed, or taken by the OOM killer) lets go of the port
        at once, then finishes the requests it holds: kept listening through its graceful
        shutdown it would leave connections queued where nobody accepts them, and a
        restarted ``serve`` unable to bind."""
        if super().is_parent_alive():
            return True
        self.alive = False  # answers now close their connection: clients reconnect elsewhere
        self.set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()
        return False

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, message = rejection(exc)
        request_id = self.wsgi.extensions["container"].ids().new("req")
        facts = {"request_id": request_id, "status": status, "error": type(exc).__name__}
        if status >= 500:
            # The traceback is written at DEBUG only (JsonFormatter drops it otherwise).
            self.log.error("unhandled error in the HTTP server", extra=facts, exc_info=exc)
        else:
            facts["client"] = (addr or ("unix socket",))[0]
            self.log.warning("rejected a malformed request", extra=facts)
        observe_request(getattr(req, "method", None) or "other", "unmatched", status, 0.0)
        try:
            util.write_nonblock(client, error_bytes(status, message, request_id))
        except Exception:  # the client may be gone already
            self.log.debug("could not send the error response")
