# SPDX-License-Identifier: GPL-3.0-or-later
"""Maildir++ as Dovecot lays it out: folder names, flags and keywords, atomic and idempotent delivery."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groupware.sieve.delivery import InvalidFolder, Maildir, decode_mutf7, encode_mutf7, folder_path


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("Collègues", "Coll&AOg-gues"),
        ("Lefèvre", "Lef&AOg-vre"),
        ("sécurité", "s&AOk-curit&AOk-"),
        ("A & B", "A &- B"),
        ("日本語", "&ZeVnLIqe-"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3's example
        ("plain", "plain"),
    ],
)
def test_modified_utf7_both_ways(name: str, encoded: str) -> None:
    assert encode_mutf7(name) == encoded
    assert decode_mutf7(encoded) == name


def test_folder_paths_are_dovecot_maildir_plus_plus(tmp_path: Path) -> None:
    assert folder_path(tmp_path, "INBOX") == tmp_path
    assert folder_path(tmp_path, "inbox") == tmp_path
    assert folder_path(tmp_path, "Collègues/Lefèvre") == tmp_path / ".Coll&AOg-gues.Lef&AOg-vre"
    assert folder_path(tmp_path, "Junk") == tmp_path / ".Junk"


@pytest.mark.parametrize("bad", ["", "a//b", "a.b", "/a", "a/", "tab\there"])
def test_invalid_folder_names(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidFolder):
        folder_path(tmp_path, bad)


def test_missing_folder_is_created_only_when_allowed(tmp_path: Path) -> None:
    box = Maildir(tmp_path / "Maildir")
    assert box.ensure("INBOX") == tmp_path / "Maildir"
    with pytest.raises(FileNotFoundError):
        box.ensure("Archives")
    assert not box.exists("Archives")
    folder = box.ensure("Archives", create=True)
    assert {p.name for p in folder.iterdir()} == {"cur", "new", "tmp", "maildirfolder"}
    assert box.exists("Archives") and box.exists("INBOX")
    auto = Maildir(tmp_path / "Maildir", autocreate=True)
    assert auto.ensure("Projets/2025").name == ".Projets.2025"


def test_message_without_flags_goes_to_new_with_sizes(tmp_path: Path) -> None:
    box = Maildir(tmp_path, hostname="mx/1:2")
    message = b"Subject: a\n\nline\n"
    prepared = box.prepare(box.ensure("INBOX"), message, "u@x")
    assert list((tmp_path / "new").iterdir()) == []  # nothing visible before commit
    box.commit([prepared])
    (stored,) = (tmp_path / "new").iterdir()
    assert stored.read_bytes() == message
    assert stored.name.endswith(f".mx\\0571\\0722,S={len(message)},W={len(message) + 3}")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_flags_are_info_letters_and_keywords_go_through_dovecot_keywords(tmp_path: Path) -> None:
    box = Maildir(tmp_path)
    folder = box.ensure("INBOX")
    (folder / "dovecot-keywords").write_text("0 $Label1\n")
    prepared = box.prepare(folder, b"x\n", "u@x", ("\\Seen", "\\Flagged", "$Label1", "projet", "\\Answered"))
    box.commit([prepared])
    (stored,) = (tmp_path / "cur").iterdir()
    assert stored.name.endswith(":2,FRSab")  # system letters, then keyword letters, each in ASCII order
    assert (folder / "dovecot-keywords").read_text() == "0 $Label1\n1 projet\n"
    assert Maildir.read_keywords(folder) == {"$Label1": "a", "projet": "b"}


def test_draft_and_deleted(tmp_path: Path) -> None:
    box = Maildir(tmp_path)
    box.commit([box.prepare(box.ensure("INBOX"), b"x\n", "u@x", ("\\Draft", "\\Deleted"))])
    assert next((tmp_path / "cur").iterdir()).name.endswith(":2,DT")


def test_prepared_file_is_synced_and_abort_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    box = Maildir(tmp_path)
    prepared = box.prepare(box.ensure("INBOX"), b"x\n", "u@x")
    assert synced, "the message file is fsync-ed before it may be renamed"
    count = len(synced)
    box.commit([prepared])
    assert len(synced) == count + 1, "the target directory is fsync-ed after the rename"
    again = box.prepare(box.ensure("INBOX"), b"y\n", "u@x")
    box.abort([again])
    assert list((tmp_path / "tmp").iterdir()) == []
    assert len(list((tmp_path / "new").iterdir())) == 1


def test_a_retried_delivery_lands_on_the_same_name(tmp_path: Path) -> None:
    box = Maildir(tmp_path)
    for _ in range(2):
        box.commit([box.prepare(box.ensure("INBOX"), b"Message-ID: <1@x>\n\nsame\n", "u@x")])
    box.commit([box.prepare(box.ensure("INBOX"), b"Message-ID: <1@x>\n\nsame\n", "other@x")])
    box.commit([box.prepare(box.ensure("INBOX"), b"Message-ID: <2@x>\n\nother\n", "u@x")])
    assert len(list((tmp_path / "new").iterdir())) == 3


def test_keywords_that_are_not_imap_atoms_are_left_out(tmp_path: Path) -> None:
    """A Sieve flag with a newline or a parenthesis cannot corrupt ``dovecot-keywords`` (RFC 3501 §9
    atoms).
    """
    store = Maildir(tmp_path)
    folder = store.ensure("INBOX")
    letters = store.keyword_letters(folder, ["$label1", "bad\nkeyword", "(x)", "projet"])
    assert set(letters) == {"$label1", "projet"}
    assert (folder / "dovecot-keywords").read_text(encoding="utf-8").splitlines() == ["0 $label1", "1 projet"]
