# SPDX-License-Identifier: GPL-3.0-or-later
"""Sieve text → syntax tree (RFC 5228 §2 lexical structure, §8 grammar), parsed by sievelib.

sievelib's :class:`~sievelib.parser.Lexer` cuts the script into tokens and its
:class:`~sievelib.parser.Parser` walks them: commands, tests, test lists (RFC 5228 §2.6), blocks (§2.9),
string lists (§2.4.2) and bracket matching are its state machine. It is extended through its plugin points:

* every identifier of the script gets a command class, registered with ``sievelib.commands.add_commands`` for
  the time of the parse (then sievelib's own table is put back). The class is one generic :class:`_Node` that
  takes its arguments the way sievelib's commands with ``non_deterministic_args`` do, and records them *in
  order with their line and column*. So the commands and arguments sievelib lacks (``:user``/``:detail``, the
  ``string`` test, ``:index``, editheader, include, duplicate, ``i;ascii-numeric``, …) are parsed like any
  other;
* a subclass of its lexer remembers where each token starts (sievelib reports only the line of an error) and
  which command owns each ``{``, ``(`` and ``[``.

Why sievelib's own argument tables are not used: they keep the arguments of a command in named slots, so the
order and position of each argument are lost, they stop at the first problem, and they know only the
extensions sievelib has. Which commands, tags, comparators and extensions exist and whether ``require`` is
right is instead checked by :mod:`compile` against :mod:`grammar`, which reports *every* error as
``line:column: message`` and rejects what sievelib wrongly accepts (an unknown ``require`` name, ``require``
after another command). On top of sievelib's grammar this module also rejects what it lets through: a command
left without ``;`` at the end of the script, a second test that sievelib would silently drop (``if anyof
(true), false``), a ``text:`` string with something after ``text:`` on its first line, and numbers above 2^63
− 1; a script that trips sievelib's state machine is a syntax error at the token it stopped on.

The registration happens under a lock, so parses from several threads take turns; sievelib's module table is
never left holding our classes. Positions are counted in characters, though sievelib scans bytes.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from sievelib import commands as _registry  # type: ignore[import-untyped]
from sievelib.commands import Command as _SievelibCommand  # type: ignore[import-untyped]
from sievelib.commands import add_commands
from sievelib.parser import Lexer as _SievelibLexer  # type: ignore[import-untyped]
from sievelib.parser import Parser as _SievelibParser

from .errors import SieveSyntaxError

__all__ = ["Argument", "Command", "Number", "Strings", "Tag", "Test", "Token", "parse", "tokens"]


@dataclass(slots=True)
class Tag:
    """A tagged argument such as ``:contains`` (RFC 5228 §2.6.2); ``name`` has no colon."""

    name: str
    line: int
    column: int


@dataclass(slots=True)
class Number:
    """A number with its K/M/G quantifier applied (RFC 5228 §2.4.1)."""

    value: int
    line: int
    column: int


@dataclass(slots=True)
class Strings:
    """A string or a string list (RFC 5228 §2.4.2); ``is_list`` tells ``["a"]`` from ``"a"``."""

    values: list[str]
    is_list: bool
    line: int
    column: int


Argument = Tag | Number | Strings


@dataclass(slots=True)
class Test:
    """A test: identifier, arguments, nested tests (RFC 5228 §2.6, §5)."""

    name: str
    args: list[Argument]
    tests: list[Test]
    line: int
    column: int
    has_test_list: bool = False


@dataclass(slots=True)
class Command:
    """A command: identifier, arguments, tests, and a block for control commands (RFC 5228 §2.9, §3)."""

    name: str
    args: list[Argument]
    tests: list[Test]
    line: int
    column: int
    block: list[Command] | None = None
    has_test_list: bool = False
    end_line: int = 0


@dataclass(slots=True)
class Token:
    """A significant token: ``kind`` is ``punct``, ``string``, ``number``, ``tag`` or ``ident``; ``pos`` is
    the offset of its first character in the text."""

    kind: str
    value: str
    pos: int


_QUANTIFIERS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_TEXT_FIRST_LINE = re.compile(r"text:[ \t]*(?:#[^\n]*)?\r?\n")
_DOT_STUFFED = re.compile(r"^\.\.", re.MULTILINE)
_MAX_NUMBER = (1 << 63) - 1
_PUNCT = {
    "left_bracket": "[",
    "right_bracket": "]",
    "left_parenthesis": "(",
    "right_parenthesis": ")",
    "left_cbracket": "{",
    "right_cbracket": "}",
    "semicolon": ";",
    "comma": ",",
}
_READABLE = {
    **{name: f"'{char}'" for name, char in _PUNCT.items()},
    "multiline": "text: string",
    "hash_comment": "comment",
}
_TOKEN_NAME = re.compile(r"\b(?:" + "|".join(_READABLE) + r")\b")
_CONTROLS_WITH_TEST = frozenset({"if", "elsif"})
_BEFORE = frozenset({"identifier", "left_bracket", "left_cbracket", "right_cbracket", "right_parenthesis"})
_AFTER = frozenset({"left_cbracket", "left_parenthesis"})
_LOCK = threading.Lock()
_ACTIVE = threading.local()


def _string(raw: str) -> str | None:
    """The value of a quoted or ``text:`` string token (RFC 5228 §2.4.2); None if ``text:`` is malformed."""
    if raw.startswith('"'):
        return _UNESCAPE.sub(r"\1", raw[1:-1]) if "\\" in raw else raw[1:-1]
    first = _TEXT_FIRST_LINE.match(raw)
    if first is None:
        return None
    body = raw[first.end() :].removesuffix("\r").removesuffix(".")
    return _DOT_STUFFED.sub(".", body)


class _PositionLexer(_SievelibLexer):  # type: ignore[misc]
    """sievelib's lexer, telling the parser where each token starts and what it closes or opens."""

    def __init__(self, parser: _Parser) -> None:
        super().__init__(_SievelibParser.lrules)
        self.owner = parser
        self.start = 0
        self.list_start = 0

    def scan(self, text: bytes) -> Iterator[tuple[str, bytes]]:
        """Tokens as sievelib yields them; a token read again after the parser's one-character rewind is the
        same token, so its bookkeeping is done once."""
        last = -1
        owner = self.owner
        for ttype, tvalue in super().scan(text):
            fresh = self.pos != last
            last = self.start = self.pos
            if fresh and (ttype in _BEFORE or owner.closing is not None):
                owner.before(ttype, tvalue)
            yield ttype, tvalue
            if ttype in _AFTER:
                owner.after(ttype, fresh)


class _Parser(_SievelibParser):  # type: ignore[misc]
    """sievelib's parser with our command classes and position bookkeeping (RFC 5228 §8.2)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.data = text.encode("utf-8", "surrogateescape")
        self.ascii = text.isascii()
        self.lexer: _PositionLexer = _PositionLexer(self)
        self.line_starts = [0] + [m.end() for m in re.finditer(b"\n", self.data)]
        self.line_span = (0, 0, 0)
        self.saved: dict[str, Any] = {}
        self.seen: set[bytes] = set()
        self.braces: list[_Node | None] = []
        self.parens: list[_Node | None] = []
        self.closing: _Node | None = None

    def where(self, pos: int) -> tuple[int, int]:
        """1-based line and (character) column of a byte offset; tokens come in order, so the line of the
        previous one is tried first."""
        start, stop, line = self.line_span
        if not start <= pos < stop:
            index = bisect.bisect_right(self.line_starts, pos) - 1
            start, line = self.line_starts[index], index + 1
            stop = self.line_starts[index + 1] if index + 1 < len(self.line_starts) else len(self.data) + 1
            self.line_span = (start, stop, line)
        if self.ascii:
            return line, pos - start + 1
        return line, len(self.data[start:pos].decode("utf-8", "replace")) + 1

    def fail(self, pos: int, message: str) -> SieveSyntaxError:
        line, column = self.where(pos)
        return SieveSyntaxError(line, column, message)

    def current(self) -> _Node | None:
        """The command sievelib is working on (it keeps it in a private attribute)."""
        node = getattr(self, "_Parser__curcommand", None)
        return node if isinstance(node, _Node) else None

    def register(self, name: str) -> None:
        """Install the command class for an identifier, remembering what sievelib had under that name."""
        key = name.lower().capitalize() + "Command"
        if key in self.saved:
            return
        self.saved[key] = _registry.__dict__.get(key, _MISSING)
        add_commands(_node_class(key))

    def restore(self) -> None:
        for key, previous in self.saved.items():
            if previous is _MISSING:
                _registry.__dict__.pop(key, None)
            else:
                _registry.__dict__[key] = previous

    def before(self, ttype: str, tvalue: bytes) -> None:
        """Bookkeeping before sievelib sees a new token."""
        if self.closing is not None:
            self.closing.close_list()
            self.closing = None
        if ttype == "identifier":
            if tvalue not in self.seen:
                self.seen.add(tvalue)
                self.register(tvalue.decode("ascii"))
        elif ttype == "left_bracket":
            self.lexer.list_start = self.lexer.start
        elif ttype == "left_cbracket":
            self.braces.append(None)
        elif ttype == "right_cbracket" and self.braces:
            owner = self.braces.pop()
            if owner is not None and isinstance(owner.ast, Command):
                owner.ast.end_line = self.where(self.lexer.start)[0]
        elif ttype == "right_parenthesis" and self.parens:
            self.closing = self.parens.pop()

    def after(self, ttype: str, fresh: bool) -> None:
        """Bookkeeping once sievelib has handled a token: who owns the block or test list it opened."""
        node = self.current()
        if node is None or node.is_test and ttype == "left_cbracket":
            return
        if ttype == "left_cbracket" and self.braces:
            node.open_block()
            self.braces[-1] = node
        elif ttype == "left_parenthesis" and fresh:
            node.open_list()
            self.parens.append(node)

    def run(self) -> list[Command]:
        """Parse, then turn sievelib's command objects into our tree."""
        try:
            parsed = self.parse(self.data)
        except SieveSyntaxError:
            raise
        except Exception as exc:  # sievelib's state machine trips over some malformed scripts
            raise self.fail(min(self.lexer.start, len(self.data)), "unexpected token") from exc
        if not parsed:
            pos = min(self.lexer.pos, len(self.data))
            message = re.sub(r"^line \d+: (parsing error: )?", "", self.error)
            raise self.fail(pos, _TOKEN_NAME.sub(lambda m: _READABLE[m.group()], message))
        if self.closing is not None:
            self.closing.close_list()
        if self.current() is not None:
            raise self.fail(len(self.data), "expected ';' or '{' but found end of script")
        return [node.ast for node in self.result if isinstance(node, _Node) and isinstance(node.ast, Command)]


_MISSING = object()


class _Node(_SievelibCommand):  # type: ignore[misc]
    """Any command or test: sievelib hands it each argument, it records them in order with their position.

    Whether it is a test or a command comes from where it stands (RFC 5228 §8.2): inside the argument list of
    another node it is a test, otherwise a command; ``if`` and ``elsif`` are controls that take a test.
    """

    args_definition: ClassVar[list[dict[str, Any]]] = [
        {"name": "argument", "type": ["tag", "number", "string", "stringlist"]}
    ]
    extension: ClassVar[str | None] = None
    must_follow: ClassVar[list[str] | None] = None
    accept_children = True
    has_block: bool

    node_name: ClassVar[str] = ""

    def __init__(self, parent: _SievelibCommand | None = None) -> None:
        # What sievelib's parser reads of a command (its base __init__ also prepares the named argument slots
        # that only its own argument tables use).
        self.parent, self.name = parent, self.node_name
        self.children: list[_SievelibCommand] = []
        self.hash_comments: list[bytes] = []
        self.parser: _Parser = _ACTIVE.parser
        line, column = self.parser.where(self.parser.lexer.start)
        self.is_test = isinstance(parent, _Node) and not parent.has_block
        self.ast: Test | Command
        if self.is_test:
            self._type, self.ast = "test", Test(self.name, [], [], line, column)
        else:
            self._type = "control" if self.name in _CONTROLS_WITH_TEST else "action"
            self.ast = Command(self.name, [], [], line, column, end_line=line)
        self.done = self.list_open = self.has_block = False
        self.non_deterministic_args = True
        self.variable_args_nb = False

    def open_list(self) -> None:
        """A ``(`` test list starts: commas and ``)`` belong to it until it closes (RFC 5228 §2.6.3)."""
        self.list_open = self.ast.has_test_list = self.variable_args_nb = True
        self.non_deterministic_args = False

    def open_block(self) -> None:
        """A ``{`` block starts (RFC 5228 §2.9); the commands sievelib adds as children go into it."""
        self.has_block = True
        if isinstance(self.ast, Command) and self.ast.block is None:
            self.ast.block = []

    def close_list(self) -> None:
        self.list_open = self.variable_args_nb = False
        self.done = True

    def iscomplete(self, atype: str | None = None, avalue: str | None = None) -> bool:
        return self.done or (bool(self.ast.tests) and not self.list_open)

    def reassign_arguments(self) -> None:
        self.done = True

    def complete_cb(self) -> None:
        if isinstance(self.ast, Command):
            self.ast.end_line = self.parser.where(self.parser.lexer.start)[0]

    def addchild(self, child: _SievelibCommand) -> bool:
        block = self.ast.block if isinstance(self.ast, Command) else None
        if block is not None and isinstance(child, _Node) and isinstance(child.ast, Command):
            block.append(child.ast)
        self.children.append(child)
        return True

    def check_next_arg(self, atype: str, avalue: Any, add: bool = True, check_extension: bool = True) -> bool:
        """Take one argument or test; arguments come before tests, one test unless in a list (RFC 5228
        §8.2).
        """
        if atype == "test":
            if not add:
                return True
            tests = self.ast.tests
            if (
                isinstance(avalue, _Node)
                and isinstance(avalue.ast, Test)
                and (self.list_open or not (tests or self.done))
            ):
                tests.append(avalue.ast)
                return True
            # sievelib ignores a refused test and would drop it silently: a second test where one is allowed
            # (``if anyof (true), false``) is a syntax error (RFC 5228 §8.2).
            line, column = self.parser.where(self.parser.lexer.start)
            raise SieveSyntaxError(line, column, f"unexpected test '{getattr(avalue, 'name', '')}'")
        if self.done or self.ast.tests:
            return False
        self.ast.args.append(self.argument(atype, avalue))
        return True

    def argument(self, atype: str, value: Any) -> Argument:
        lexer = self.parser.lexer
        pos = lexer.list_start if atype == "stringlist" else lexer.start
        line, column = self.parser.where(pos)
        if atype == "tag":
            return Tag(value[1:].lower(), line, column)
        if atype == "number":
            number = int(value.rstrip("KMGkmg")) * _QUANTIFIERS.get(value[-1].lower(), 1)
            if number > _MAX_NUMBER:
                raise SieveSyntaxError(line, column, f"number {value} is too large")
            return Number(number, line, column)
        if atype == "string" and value[0] == '"' and "\\" not in value:
            return Strings([value[1:-1]], False, line, column)  # the common case, nothing to undo
        values = [_string(v) for v in (value if atype == "stringlist" else [value])]
        if None in values:
            raise SieveSyntaxError(line, column, "expected a line break after 'text:'")
        return Strings([v for v in values if v is not None], atype == "stringlist", line, column)


_CLASSES: dict[str, type[_Node]] = {}


def _node_class(key: str) -> type[_Node]:
    """The command class sievelib finds under ``key`` (``FileintoCommand`` for ``fileinto``)."""
    cls = _CLASSES.get(key)
    if cls is None:
        cls = type(key, (_Node,), {"node_name": key.removesuffix("Command").lower()})
        if len(_CLASSES) < 4096:
            _CLASSES[key] = cls
    return cls


def parse(text: str) -> list[Command]:
    """Parse a whole script into its list of top-level commands.

    Raises:
        SieveSyntaxError: the script does not follow the grammar of RFC 5228 §8.
    """
    with _LOCK:
        parser = _Parser(text)
        _ACTIVE.parser = parser
        try:
            return parser.run()
        finally:
            parser.restore()
            _ACTIVE.parser = None


def tokens(text: str) -> list[Token]:
    """The significant tokens of a text as sievelib's lexer cuts them, comments dropped (RFC 5228 §2.2, §2.3).

    Raises:
        SieveSyntaxError: a character that starts no token.
    """
    data = text.encode("utf-8", "surrogateescape")
    lexer = _SievelibLexer(_SievelibParser.lrules)
    out: list[Token] = []
    try:
        for ttype, raw in lexer.scan(data):
            pos = lexer.pos if text.isascii() else len(data[: lexer.pos].decode("utf-8", "replace"))
            if ttype in _PUNCT:
                out.append(Token("punct", _PUNCT[ttype], pos))
            elif ttype in ("string", "multiline"):
                out.append(Token("string", _string(raw.decode("utf-8", "surrogateescape")) or "", pos))
            elif ttype != "hash_comment" and ttype != "bracket_comment":
                out.append(Token({"identifier": "ident"}.get(ttype, ttype), raw.decode("ascii"), pos))
    except Exception as exc:  # sievelib's ParseError
        raise SieveSyntaxError(1, lexer.pos + 1, str(exc)) from exc
    return out
