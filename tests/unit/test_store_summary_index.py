# SPDX-License-Identifier: GPL-3.0-or-later
"""A whole-collection listing reads the summary index only, never the items' rows and texts."""

from __future__ import annotations

from pathlib import Path

from groupware.store import Store


def test_summaries_read_a_covering_index(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store.sqlite"))
    record = store.create_collection("alice/contacts", {"tag": "VADDRESSBOOK"})[0]
    conn = store.db.connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    assert store.summaries(record.id) == []
    conn.set_trace_callback(None)
    (query,) = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    plan = conn.execute("EXPLAIN QUERY PLAN " + query).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "COVERING INDEX items_summary" in details and "TEMP B-TREE" not in details
