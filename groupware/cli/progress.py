# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress bars on stderr for long commands (address-book sync, storage import and export), drawn by tqdm."""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["ProgressBar"]


class ProgressBar:
    """``progress(done, total, what)`` as a tqdm bar labelled ``label``, ``what`` shown after the counts.

    Call :meth:`close` at the end (its last state stays on screen).
    """

    def __init__(self, label: str) -> None:
        self._label = label
        self._bar: tqdm[None] | None = None
        self._what = ""

    def __call__(self, done: int, total: int, what: str) -> None:
        if self._bar is None or self._bar.total != total:
            self.close()
            self._bar = tqdm(
                total=total, desc=self._label, file=sys.stderr, unit=" items", ncols=110, ascii=True
            )
        if what != self._what:
            self._what = what
            self._bar.set_postfix_str(f"/{what}/", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """End the current bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
