"""IPv4-mapped addresses in the search column in RFC 5952 form (``::ffff:192.0.2.1``).

Python before 3.13 prints them in hex (``::ffff:c000:201``), 3.13 in the RFC's mixed
notation, so the canonical form of a stored address depended on the interpreter, and a
filter written under one missed events stored under another. Auditrail now writes the
RFC form on every version; this rewrites the search column of events stored in hex. The
hashed body keeps the address exactly as it was stored, since the chain covers it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 1_000
_MAPPED = sa.text("SELECT id, ip_address FROM events WHERE id > :after "
                  "AND ip_address LIKE '::ffff:%' ORDER BY id LIMIT :batch")
_REWRITE = sa.text("UPDATE events SET ip_address = :address WHERE id = :id")


def upgrade() -> None:
    """In id order, a batch at a time: memory stays flat however many events match."""
    bind = op.get_bind()
    after = ""
    while rows := bind.execute(_MAPPED, {"after": after, "batch": _BATCH}).all():
        rewritten = ((id_, address, _rfc5952(address)) for id_, address in rows)
        changed = [{"id": id_, "address": new} for id_, old, new in rewritten if new != old]
        if changed:
            bind.execute(_REWRITE, changed)
        after = rows[-1][0]


def downgrade() -> None:
    """Nothing to undo: either form is a valid spelling of the same address."""


def _rfc5952(text: str) -> str:
    """``domain.event_rules.canonical_ip_address`` for mapped addresses, copied on purpose:
    a migration must keep doing what it did when it shipped, whatever the domain becomes."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is None:
        return text
    scope = f"%{address.scope_id}" if address.scope_id else ""
    return f"::ffff:{mapped}{scope}"
