# SPDX-License-Identifier: GPL-3.0-or-later
"""The script store: Dovecot's layout, atomic writes and link swaps, quotas, names (RFC 5804 §1.6,
§2.5–§2.11)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from groupware.sieve.checks import check_script
from groupware.sieve.errors import SieveCompileError
from groupware.sieve.host import Policy
from groupware.sieve.scripts import Quotas, ScriptError, ScriptStore, check_name

USER = "helene.lefevre"


def store(tmp_path: Path, **quotas: int) -> ScriptStore:
    return ScriptStore(tmp_path, Quotas(**quotas), lambda name, text: check_script(text, Policy()))


def test_dovecot_layout(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.put(USER, "roundcube", b"keep;\r\n")
    assert (tmp_path / USER / "sieve" / "roundcube.sieve").read_bytes() == b"keep;\r\n"
    assert s.set_active(USER, "roundcube")
    link = tmp_path / USER / ".dovecot.sieve"
    assert link.is_symlink() and os.readlink(link) == "sieve/roundcube.sieve"
    assert s.list(USER) == [("roundcube", True)]
    assert s.active_path(USER) == tmp_path / USER / "sieve" / "roundcube.sieve"
    assert s.set_active(USER, "") and not os.path.lexists(link)
    assert s.list(USER) == [("roundcube", False)] and s.active(USER) is None


def test_rename_keeps_active_link_and_delete_refuses_active(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.put(USER, "a", b"keep;")
    s.set_active(USER, "a")
    s.rename(USER, "a", "b")
    assert os.readlink(tmp_path / USER / ".dovecot.sieve") == "sieve/b.sieve"
    assert s.list(USER) == [("b", True)]
    with pytest.raises(ScriptError) as refused:
        s.delete(USER, "b")
    assert refused.value.code == "ACTIVE"
    s.put(USER, "c", b"discard;")
    with pytest.raises(ScriptError, match="already exists") as exists:
        s.rename(USER, "c", "b")
    assert exists.value.code == "ALREADYEXISTS"
    with pytest.raises(ScriptError) as missing:
        s.get(USER, "zz")
    assert missing.value.code == "NONEXISTENT"


def test_failed_write_leaves_old_script_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = store(tmp_path)
    s.put(USER, "a", b"keep;")

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        s.put(USER, "a", b"discard;")
    monkeypatch.undo()
    assert s.get(USER, "a") == b"keep;"
    assert sorted(p.name for p in (tmp_path / USER / "sieve").iterdir()) == ["a.sieve", "tmp"]
    assert [p.name for p in (tmp_path / USER / "sieve" / "tmp").iterdir()] == [".lock"]


def test_failed_link_swap_keeps_previous_active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = store(tmp_path)
    s.put(USER, "a", b"keep;")
    s.put(USER, "b", b"keep;")
    s.set_active(USER, "a")
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        s.set_active(USER, "b")
    with pytest.raises(OSError):
        s.rename(USER, "a", "c")
    monkeypatch.undo()
    assert s.active(USER) == "a"  # never a dangling link: after a failed rename the old name is still there
    assert {"a", "b"} <= set(s.names(USER))


def test_invalid_scripts_never_reach_disk(tmp_path: Path) -> None:
    s = store(tmp_path)
    with pytest.raises(SieveCompileError):
        s.put(USER, "bad", b"if true {")
    with pytest.raises(ScriptError, match="UTF-8"):
        s.put(USER, "bad", b"# \xff\nkeep;")
    assert s.names(USER) == []


def test_quotas(tmp_path: Path) -> None:
    s = store(tmp_path, max_scripts=2, max_script_size=20, max_storage=30)
    s.put(USER, "a", b"keep;")
    s.put(USER, "b", b"#xxxxxxxxxxxx\nkeep;")
    codes = {}
    for name, size in (("c", 5), ("a", 25), ("a", 15)):
        with pytest.raises(ScriptError) as exc:
            s.have_space(USER, name, size)
        codes[name, size] = exc.value.code
    assert codes == {("c", 5): "QUOTA/MAXSCRIPTS", ("a", 25): "QUOTA/MAXSIZE", ("a", 15): "QUOTA"}
    s.have_space(USER, "a", 10)  # replacing a script counts its old size out


@pytest.mark.parametrize(
    "name", ["", "a/b", "x\ny", "tab\there", "\u2028", "e\u0301", "x" * 201, "..", "nul\0"]
)
def test_names_refused(name: str) -> None:
    with pytest.raises(ScriptError, match="Invalid Sieve script name"):
        check_name(name)


@pytest.mark.parametrize("name", ["roundcube", "Filtres été", ".hidden", "a b", "x" * 200])
def test_names_accepted(name: str, tmp_path: Path) -> None:
    check_name(name)
    s = store(tmp_path)
    s.put(USER, name, b"keep;")
    assert s.names(USER) == [name] and s.get(USER, name) == b"keep;"
    assert s.set_active(USER, name) and s.active(USER) == name


def test_concurrent_writers_never_corrupt(tmp_path: Path) -> None:
    s = store(tmp_path)
    bodies = [f"# writer {i}\n".encode() + b"keep;\n" * (50 + i) for i in range(8)]
    errors: list[BaseException] = []

    def writer(body: bytes) -> None:
        try:
            for _ in range(20):
                s.put(USER, "shared", body)
                assert s.get(USER, "shared") in bodies
                s.set_active(USER, "shared")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert s.get(USER, "shared") in bodies and s.list(USER) == [("shared", True)]


def test_user_names_cannot_escape_the_root(tmp_path: Path) -> None:
    s = store(tmp_path)
    for user in ("../x", ".hidden", "", "a/b"):
        with pytest.raises(ScriptError):
            s.put(user, "a", b"keep;")


def test_a_hand_written_dovecot_sieve_is_kept(tmp_path: Path) -> None:
    s = store(tmp_path)
    home = tmp_path / USER
    home.mkdir()
    (home / ".dovecot.sieve").write_text("discard;\n")
    assert s.active(USER) is None
    s.put(USER, "new", b"keep;")
    s.set_active(USER, "new")
    assert s.get(USER, "dovecot.orig") == b"discard;\n" and s.active(USER) == "new"
