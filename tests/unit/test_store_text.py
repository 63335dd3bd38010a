# SPDX-License-Identifier: GPL-3.0-or-later
"""The one text fold (RFC 4790 §9.3 i;unicode-casemap as used for contact search): NFKD, marks dropped,
casefold; shared by the contact index and the principal search."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from groupware.dav import principal_search
from groupware.store.text import fold


def _version_1_fold(text: str) -> str:
    """The contact index's fold before schema version 2 (lower-casing instead of case folding)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hélène LEFÈVRE", "helene lefevre"),
        ("Zoé", "zoe"),
        ("ﬁnance", "finance"),  # compatibility decomposition
        ("Straße", "strasse"),  # full case folding, not lower-casing
        ("ΣΊΣΥΦΟΣ", "σισυφοσ"),
        ("σίσυφος", "σισυφοσ"),  # final sigma folds like sigma
        ("İstanbul", "istanbul"),
        ("Ｍａｒｉｅ", "marie"),  # full-width forms
        ("ASCII Only", "ascii only"),
    ],
)
def test_fold_decomposes_drops_marks_and_casefolds(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_principal_search_uses_the_same_fold() -> None:
    assert principal_search.fold is fold


def _code_points() -> list[str]:
    return [chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp < 0xE000]


def test_fold_is_idempotent_and_refolds_version_1_values_like_the_original() -> None:
    """The schema upgrade refolds stored values: that is right only if fold(old_fold(x)) == fold(x)."""
    wrong = [
        ch for ch in _code_points() if fold(fold(ch)) != fold(ch) or fold(_version_1_fold(ch)) != fold(ch)
    ]
    assert wrong == []
