# SPDX-License-Identifier: GPL-3.0-or-later
"""`groupware storage import` takes a stock Radicale folder; `export` writes it back identical, item for
item.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import radicale.config
import radicale.item
import radicale.storage
import vobject
from support import LDIF_DIRECTORY, RunningServer, config_module, request, write_config

GROUPWARE = [sys.executable, "-m", "groupware.cli"]
EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:20260901T080000Z\r\nDTSTART:20260915T090000Z\r\nDTEND:20260915T100000Z\r\nRRULE:FREQ=WEEKLY\r\n"
    "SUMMARY:Conseil pédagogique {uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Hélène {uid}\r\nN:{uid};Hélène;;;\r\nEND:VCARD\r\n"
COLLECTIONS = {
    "helene.lefevre/calendar": (
        {
            "tag": "VCALENDAR",
            "D:displayname": "Agenda",
            "ICAL:calendar-color": "#ff0000ff",
            "C:supported-calendar-component-set": "VEVENT,VTODO",
        },
        EVENT,
        "ics",
    ),
    "helene.lefevre/contacts": ({"tag": "VADDRESSBOOK", "D:displayname": "Contacts"}, CARD, "vcf"),
    "marie.martin/conseils": ({"tag": "VCALENDAR", "D:displayname": "Conseils de classe"}, EVENT, "ics"),
    "marie.martin/vide": ({"tag": "VADDRESSBOOK", "D:displayname": "Vide"}, CARD, "vcf"),
}


def _radicale_folder(folder: Path) -> None:
    configuration = radicale.config.load()
    configuration.update({"storage": {"type": "multifilesystem", "filesystem_folder": str(folder)}}, "test")
    storage = radicale.storage.load(configuration)
    with storage.acquire_lock("w"):
        for path, (props, template, suffix) in COLLECTIONS.items():
            collection, _, _ = storage.create_collection(f"/{path}/", props=props)
            for index in range(0 if path.endswith("vide") else 25):
                uid = f"{path.split('/')[1]}-{index}"
                text = template.format(uid=uid)
                item = radicale.item.Item(collection_path=path, vobject_item=vobject.readOne(text))
                collection.upload(
                    f"not the uid {index}.{suffix}", item
                )  # hrefs that are not derived from UIDs


def _files(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted((root / "collection-root").rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_dir() or ".Radicale.cache" in relative or ".Radicale.lock" in relative:
            continue
        if path.name == ".Radicale.props":
            found[relative] = json.loads(path.read_text(encoding="utf-8"))
        else:
            found[relative] = path.read_text(encoding="utf-8")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GROUPWARE, *args], capture_output=True, text=True, timeout=300, check=False)


def test_import_then_export_gives_the_same_folder(tmp_path: Path) -> None:
    source, exported = tmp_path / "radicale", tmp_path / "exported"
    _radicale_folder(source)
    untouched = {path: path.stat().st_mtime_ns for path in source.rglob("*")}
    config = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY, storage=tmp_path / "store")
    imported = _run("storage", "import", str(source), "--config", str(config))
    assert imported.returncode == 0, imported.stderr
    assert "imported 4 collections, 75 items" in imported.stdout
    assert "import /helene.lefevre/contacts/: 100%" in imported.stderr and "25/25" in imported.stderr
    assert {path: path.stat().st_mtime_ns for path in source.rglob("*")} == untouched, "the import only reads"
    result = _run("storage", "export", str(exported), "--config", str(config))
    assert result.returncode == 0, result.stderr
    before, after = _files(source), _files(exported)
    items = [name for name in before if not name.endswith(".Radicale.props")]
    assert len(items) == 75
    assert after == before

    server = RunningServer(config_module.load(config))  # the imported items are served under their hrefs
    try:
        status, _, body = request(server, "GET", "/helene.lefevre/contacts/not%20the%20uid%203.vcf")
        assert status == 200 and "FN:Hélène contacts-3" in body.decode()
    finally:
        server.stop()


def test_import_refuses_a_folder_that_is_not_radicale_and_export_an_occupied_one(tmp_path: Path) -> None:
    config = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY, storage=tmp_path / "store")
    result = _run("storage", "import", str(tmp_path / "nothing"), "--config", str(config))
    assert result.returncode == 1 and "not a Radicale storage folder" in result.stderr
    _radicale_folder(tmp_path / "occupied")
    result = _run("storage", "export", str(tmp_path / "occupied"), "--config", str(config))
    assert result.returncode == 1 and "already holds a collection-root" in result.stderr


def test_a_broken_file_is_reported_and_the_rest_imported(tmp_path: Path) -> None:
    source = tmp_path / "radicale"
    _radicale_folder(source)
    book = source / "collection-root" / "helene.lefevre" / "contacts"
    (book / "broken.vcf").write_text("BEGIN:VCARD\r\nFN:no end\r\n", encoding="utf-8")
    config = write_config(tmp_path / "groupware.conf", LDIF_DIRECTORY, storage=tmp_path / "store")
    result = _run("storage", "import", str(source), "--config", str(config))
    assert result.returncode == 1
    assert "/helene.lefevre/contacts/broken.vcf refused" in result.stderr
    assert "imported 4 collections, 75 items" in result.stdout and "1 items refused" in result.stdout
