# SPDX-License-Identifier: GPL-3.0-or-later
"""vdirsyncer (a real two-way sync client) on a personal calendar and address book of the storage engine:
creations, changes and deletions on both sides reach the other side (RFC 6578 sync, RFC 4791/6352 objects)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import PASSWORD, USER, RunningServer, request, require_binaries, run_vdirsyncer, vdirsyncer_pair

EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261120T080000Z\r\n"
    "DTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:{text}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{text}\r\nN:{text};;;;\r\nEND:VCARD\r\n"
KINDS = {
    "calendar": ("caldav", ".ics", EVENT, "text/calendar"),
    "contacts": ("carddav", ".vcf", CARD, "text/vcard"),
}


def _local(folder: Path, uid: str) -> Path | None:
    return next((path for path in folder.glob("*") if f"UID:{uid}" in path.read_text(encoding="utf-8")), None)


@pytest.mark.parametrize("collection", KINDS)
def test_two_way_sync_with_vdirsyncer(
    start_server: Callable[..., RunningServer], tmp_path: Path, collection: str
) -> None:
    require_binaries("vdirsyncer", packages="vdirsyncer")
    kind, suffix, template, media_type = KINDS[collection]
    server = start_server()
    base = f"/{USER}/{collection}/"
    assert request(server, "PROPFIND", f"/{USER}/", headers={"Depth": "1"})[0] == 207  # provisions the home

    def put(name: str, text: str) -> None:
        status = request(
            server,
            "PUT",
            f"{base}{name}{suffix}",
            body=template.format(uid=name, text=text),
            headers={"Content-Type": media_type},
        )[0]
        assert status in (201, 204)

    def on_server() -> str:
        status, _, body = request(
            server,
            "REPORT",
            base,
            body=(
                '<sync-collection xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
                'xmlns:CR="urn:ietf:params:xml:ns:carddav"><sync-token/><sync-level>1</sync-level><prop>'
                f"{'<C:calendar-data/>' if kind == 'caldav' else '<CR:address-data/>'}</prop>"
                "</sync-collection>"
            ),
        )
        assert status == 207
        return body.decode()

    put("server-1", "Conseil pédagogique")
    put("server-2", "Réunion parents")
    config, local = vdirsyncer_pair(tmp_path, kind, f"{server.url}{base}", USER, PASSWORD, suffix)
    run_vdirsyncer(config, "discover")
    run_vdirsyncer(config, "sync")
    assert _local(local, "server-1") and _local(local, "server-2")

    (local / f"client-1{suffix}").write_text(template.format(uid="client-1", text="Créé hors ligne"), "utf-8")
    (local / f"client-2{suffix}").write_text(template.format(uid="client-2", text="À supprimer"), "utf-8")
    run_vdirsyncer(config, "sync")
    assert "client-1" in on_server() and "client-2" in on_server()

    put("server-1", "Conseil pédagogique déplacé")  # changed on the server
    assert request(server, "DELETE", f"{base}server-2{suffix}")[0] in (200, 204)  # deleted on the server
    changed = _local(local, "client-1")
    assert changed is not None
    changed.write_text(template.format(uid="client-1", text="Modifié hors ligne"), "utf-8")  # changed locally
    deleted = _local(local, "client-2")
    assert deleted is not None
    deleted.unlink()  # deleted locally
    run_vdirsyncer(config, "sync")

    assert "déplacé" in _local(local, "server-1").read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert _local(local, "server-2") is None
    remote = on_server()
    assert "Modifi" in remote and "client-2" not in remote and "server-2" not in remote
    run_vdirsyncer(config, "sync")  # nothing left to do: a second sync changes nothing on either side
    assert on_server() == remote
