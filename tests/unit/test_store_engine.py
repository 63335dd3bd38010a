# SPDX-License-Identifier: GPL-3.0-or-later
"""Contract of the storage engine: collections, items, the RFC 6578 change log, UID uniqueness, transactions.

``StoreContract`` is written against the public :class:`groupware.store.Store` API only; each backend gets one
subclass that supplies ``make_store`` (SQLite today).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.store import (
    TIMESTAMP_MAX,
    CollectionNotFound,
    ItemData,
    Store,
    TimeRange,
    UidConflict,
    UnknownSyncToken,
)


def card(
    href: str,
    uid: str,
    text: str = "BEGIN:VCARD\r\nEND:VCARD\r\n",
    contact: tuple[tuple[str, str | None], ...] = (),
) -> ItemData:
    return ItemData(href, text, f'"{uid}-{len(text)}"', uid, "VCARD", "", contact=contact)


def event(
    href: str,
    uid: str,
    span: tuple[int, int],
    instances: tuple[tuple[int, int], ...] = (),
    until: int = TIMESTAMP_MAX,
) -> ItemData:
    return ItemData(href, f"EVENT {uid}", f'"{uid}"', uid, "VCALENDAR", "VEVENT", span, instances, until)


class StoreContract:
    """Behaviour every storage backend must show."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = self.make_store(tmp_path)
        yield store
        store.close()

    def make_store(self, tmp_path: Path) -> Store:
        raise NotImplementedError

    def book(self, store: Store, path: str = "alice/contacts") -> int:
        record = store.ensure_collection(path)
        return store.set_props(record.id, {"tag": "VADDRESSBOOK"}).id

    def test_root_exists_and_parents_are_created(self, store: Store) -> None:
        assert store.get_collection("") is not None
        store.ensure_collection("alice/calendar")
        assert [c.path for c in store.children("")] == ["alice"]
        assert [c.path for c in store.children("alice")] == ["alice/calendar"]
        with pytest.raises(CollectionNotFound):
            store.collection("bob")

    def test_item_round_trip_and_multiget(self, store: Store) -> None:
        cid = self.book(store)
        stored, old = store.put_item(cid, card("a.vcf", "A"))
        assert old is None and stored.etag == '"A-24"'
        again, old = store.put_item(cid, card("a.vcf", "A", "BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n"))
        assert old == stored and store.get_item(cid, "a.vcf") == again
        assert [h for h, item in store.get_items(cid, ["a.vcf", "zz.vcf", "a.vcf"])] == ["a.vcf", "zz.vcf"]
        assert dict(store.get_items(cid, ["zz.vcf"]))["zz.vcf"] is None
        assert [i.href for i in store.iter_items(cid)] == ["a.vcf"]

    def test_etag_and_props_change_with_every_write(self, store: Store) -> None:
        cid = self.book(store)
        etags = {store.collection("alice/contacts").etag}
        store.put_item(cid, card("a.vcf", "A"))
        etags.add(store.collection("alice/contacts").etag)
        store.set_props(cid, {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"})
        record = store.collection("alice/contacts")
        etags.add(record.etag)
        store.delete_item(cid, "a.vcf")
        etags.add(store.collection("alice/contacts").etag)
        assert len(etags) == 4
        assert (
            record.props == {"tag": "VADDRESSBOOK", "D:displayname": "Contacts"}
            and record.tag == "VADDRESSBOOK"
        )

    def test_sync_reports_changes_and_deletions_since_a_token(self, store: Store) -> None:
        cid = self.book(store)
        for name in "abc":
            store.put_item(cid, card(f"{name}.vcf", name))
        token, hrefs = store.changes_since(cid)
        assert sorted(hrefs) == ["a.vcf", "b.vcf", "c.vcf"]
        assert store.changes_since(cid, token) == (token, [])
        store.put_item(cid, card("b.vcf", "b", "changed"))
        store.delete_item(cid, "c.vcf")
        store.put_item(cid, card("d.vcf", "d"))
        new_token, hrefs = store.changes_since(cid, token)
        assert new_token != token and hrefs == ["b.vcf", "c.vcf", "d.vcf"]
        assert store.changes_since(cid, new_token) == (new_token, [])

    @pytest.mark.parametrize(
        "token", ["garbage", "http://radicale.org/ns/sync/" + "0" * 64, "http://groupware/ns/sync/0000-1"]
    )
    def test_unknown_tokens_are_refused(self, store: Store, token: str) -> None:
        with pytest.raises(UnknownSyncToken):
            store.changes_since(self.book(store), token)

    def test_tokens_from_the_future_of_a_recreated_collection_or_pruned_are_unknown(
        self, store: Store
    ) -> None:
        cid = self.book(store)
        store.put_item(cid, card("a.vcf", "a"))
        token, _ = store.changes_since(cid)
        revision = token.rsplit("-", 1)[1]
        future = token.replace(f"-{revision}", f"-{int(revision) + 5}")
        store.delete_item(cid, "a.vcf")
        assert store.prune_changes(cid, store.collection("alice/contacts").revision + 1) == 1
        store.delete_collection("alice/contacts")
        recreated = self.book(store)
        for old, collection_id in ((future, cid), (token, cid), (token, recreated)):
            with pytest.raises(UnknownSyncToken):
                store.changes_since(collection_id, old)

    def test_one_uid_per_collection(self, store: Store) -> None:
        cid = self.book(store)
        other = self.book(store, "alice/other")
        store.put_item(cid, card("a.vcf", "same"))
        with pytest.raises(UidConflict):
            store.put_item(cid, card("b.vcf", "same"))
        store.put_item(other, card("b.vcf", "same"))
        assert store.has_uid(cid, "same") and store.href_of_uid(cid, "same") == "a.vcf"
        assert [i.href for i in store.iter_items(cid)] == ["a.vcf"]
        assert store.verify() == []

    def test_a_failed_unit_rolls_back_alone_inside_a_transaction(self, store: Store) -> None:
        cid = self.book(store)
        with store.transaction():
            store.put_item(cid, card("a.vcf", "a"))
            with pytest.raises(UidConflict):
                store.put_item(cid, card("b.vcf", "a"))
            store.put_item(cid, card("c.vcf", "c"))
        assert store.hrefs(cid) == ["a.vcf", "c.vcf"]
        assert sorted(store.changes_since(cid)[1]) == ["a.vcf", "c.vcf"]

    def test_an_exception_rolls_the_whole_transaction_back(self, store: Store) -> None:
        cid = self.book(store)
        with pytest.raises(RuntimeError), store.transaction():
            store.put_item(cid, card("a.vcf", "a"))
            raise RuntimeError
        assert store.hrefs(cid) == [] and store.collection("alice/contacts").revision == 1

    def test_create_collection_replaces_content_and_keeps_tokens_valid(self, store: Store) -> None:
        cid = self.book(store)
        store.put_item(cid, card("a.vcf", "a"))
        store.put_item(cid, card("b.vcf", "b"))
        token, _ = store.changes_since(cid)
        record, replaced, new = store.create_collection(
            "alice/contacts", {"tag": "VADDRESSBOOK"}, [card("b.vcf", "b", "new b"), card("c.vcf", "c")]
        )
        assert record.id == cid and list(replaced) == ["b.vcf"] and new == ["c.vcf"]
        assert sorted(store.changes_since(cid, token)[1]) == ["a.vcf", "b.vcf", "c.vcf"]
        assert store.hrefs(cid) == ["b.vcf", "c.vcf"]

    def test_delete_collection_removes_everything_below(self, store: Store) -> None:
        cid = self.book(store, "alice/contacts")
        store.ensure_collection("alice/contacts_more")
        store.put_item(cid, card("a.vcf", "a"))
        store.delete_collection("alice")
        assert store.get_collection("alice/contacts") is None and store.get_collection("alice") is None
        assert store.verify() == []

    def test_move_keeps_the_index_and_logs_both_sides(self, store: Store) -> None:
        cid = self.book(store)
        other = self.book(store, "alice/other")
        store.put_item(cid, card("a.vcf", "a", contact=(("FN", "alice"),)))
        source_token, _ = store.changes_since(cid)
        target_token, _ = store.changes_since(other)
        store.move_item(cid, "a.vcf", other, "moved.vcf")
        assert store.changes_since(cid, source_token)[1] == ["a.vcf"]
        assert store.changes_since(other, target_token)[1] == ["moved.vcf"]
        assert store.get_item(other, "moved.vcf") is not None and store.has_uid(other, "a")
        assert store.verify() == []

    def test_time_range_prefilter_and_instances(self, store: Store) -> None:
        cid = store.ensure_collection("alice/calendar").id
        store.put_item(cid, event("one.ics", "one", (100, 200), ((100, 200),)))
        store.put_item(cid, event("weekly.ics", "weekly", (0, 10_000), ((0, 10), (1000, 1010), (2000, 2010))))
        store.put_item(cid, event("open.ics", "open", (0, TIMESTAMP_MAX), ((0, 10),), until=50))
        found = {i.href: overlaps for i, overlaps in store.time_range(cid, TimeRange(150, 500, "VEVENT"))}
        assert found == {"one.ics": True, "weekly.ics": False, "open.ics": None}
        found = {i.href: overlaps for i, overlaps in store.time_range(cid, TimeRange(0, 500, "VTODO"))}
        assert found == {}

    def test_writers_in_threads_never_lose_a_write(self, store: Store) -> None:
        cid = self.book(store)

        def write(n: int) -> None:
            for i in range(20):
                store.put_item(cid, card(f"{n}-{i}.vcf", f"{n}-{i}"))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(store.hrefs(cid)) == 80 and store.collection("alice/contacts").revision == 81
        assert store.verify() == []


class TestSQLiteStore(StoreContract):
    def make_store(self, tmp_path: Path) -> Store:
        return Store(str(tmp_path / "groupware.sqlite"))

    def test_wal_mode_and_a_reader_never_waits_for_a_writer(self, store: Store) -> None:
        cid = self.book(store)
        store.put_item(cid, card("a.vcf", "a"))
        assert store.db.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        seen: list[list[str]] = []
        with store.transaction():
            store.put_item(cid, card("b.vcf", "b"))
            reader = threading.Thread(target=lambda: seen.append(store.hrefs(cid)))
            reader.start()
            reader.join(timeout=2)
            assert not reader.is_alive(), "the reader waited for the writer"
        assert seen == [["a.vcf"]] and store.hrefs(cid) == ["a.vcf", "b.vcf"]

    def test_several_processes_on_one_database_stay_consistent(self, store: Store, tmp_path: Path) -> None:
        cid = self.book(store)
        code = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parents[2])!r})\n"
            "from groupware.store import Store, ItemData\n"
            f"s = Store({store.db.path!r}); n = sys.argv[1]\n"
            "for i in range(25):\n"
            f"    s.put_item({cid}, ItemData(f'{{n}}-{{i}}.vcf', 'x', '\"e\"', f'{{n}}-{{i}}', 'VCARD', "
            "''))\n"
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], env=env) for n in range(3)]
        assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
        assert len(store.hrefs(cid)) == 75 and store.collection("alice/contacts").revision == 76
        assert store.verify() == []

    def test_tokens_survive_reopening(self, tmp_path: Path) -> None:
        store = self.make_store(tmp_path)
        cid = self.book(store)
        store.put_item(cid, card("a.vcf", "a"))
        token, _ = store.changes_since(cid)
        store.close()
        reopened = self.make_store(tmp_path)
        reopened.delete_item(cid, "a.vcf")
        assert reopened.changes_since(cid, token)[1] == ["a.vcf"]
        reopened.close()
