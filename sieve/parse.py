# SPDX-License-Identifier: GPL-3.0-or-later
"""Sieve text → syntax tree, by recursive descent over the grammar of RFC 5228 §8.2.

::

    start       = commands                      commands = *command
    command     = identifier arguments (";" / block)
    block       = "{" commands "}"
    arguments   = *argument [ test / test-list ]
    argument    = string-list / number / tag
    test        = identifier arguments
    test-list   = "(" test *("," test) ")"
    string-list = "[" string *("," string) "]" / string

Tokens come from :mod:`lexer` (RFC 5228 §2, §8.1). The tree knows no command, test or extension: any
identifier parses, and which commands, tags, comparators and extensions exist, and whether ``require`` is
right, is checked by :mod:`compile` against :mod:`grammar` under each call's :class:`~host.Policy`, which
reports *every* error. So each policy may allow its own extension set, nothing is registered anywhere, and
parses in several threads run side by side: a parse keeps its state in one :class:`_Parser` of its own.

Input is bounded: the text's size (:data:`MAX_SIZE` by default, the policy's ``max_script_size`` when
compiling), the nesting of blocks and tests together (:data:`MAX_NESTING`, above the policy's own nesting
limits, which :mod:`compile` checks with its own messages), and numbers (at most 2^63 − 1). Every error is a
:class:`~errors.SieveSyntaxError` reported as ``line:column: message``, columns counted in characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SieveSyntaxError
from .lexer import Positions, RawToken, lex, number_value

__all__ = [
    "MAX_NESTING",
    "MAX_SIZE",
    "Argument",
    "Command",
    "Number",
    "Strings",
    "Tag",
    "Test",
    "Token",
    "parse",
    "tokens",
]

#: Default bound on a script's size in bytes (Pigeonhole's ``sieve_max_script_size``, our policy's default).
MAX_SIZE = 1 << 20
#: Bound on blocks and tests nested in one another, counted together; keeps the recursion shallow.
MAX_NESTING = 128


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
    """A command: identifier, arguments, tests, and a block for control commands (RFC 5228 §2.9, §3);
    ``end_line`` is the line of its ``;`` or of the ``}`` closing its block."""

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
    the offset of its first character in the text. A string's value is decoded, a tag keeps its colon."""

    kind: str
    value: str
    pos: int


def _found(token: RawToken) -> str:
    """How an error names the token it stopped on."""
    kind, value = token[0], token[1]
    if kind == "end":
        return "end of file"
    if kind == "string":
        return "string"
    if kind in ("ident", "tag", "number"):
        return f"{ {'ident': 'identifier', 'tag': 'tag', 'number': 'number'}[kind] } '{value}'"
    return f"'{value}'"


class _Parser:
    """One parse: the tokens of one text and where the descent stands in them (RFC 5228 §8.2)."""

    __slots__ = ("depth", "i", "max_nesting", "toks", "where")

    def __init__(self, text: str, max_nesting: int) -> None:
        self.where = Positions(text)
        self.toks = lex(text, self.where)
        self.i = 0
        self.depth = 0
        self.max_nesting = max_nesting

    def fail(self, token: RawToken, message: str) -> SieveSyntaxError:
        return self.where.error(token[2], message)

    def expected(self, what: str) -> SieveSyntaxError:
        token = self.toks[self.i]
        return self.fail(token, f"expected {what}, but found {_found(token)}")

    def enter(self, token: RawToken) -> None:
        """One more level of block or test nesting, within :data:`MAX_NESTING`."""
        self.depth += 1
        if self.depth > self.max_nesting:
            raise self.fail(token, f"blocks and tests are nested too deeply (max {self.max_nesting})")

    def commands(self, in_block: bool) -> list[Command]:
        """``commands = *command`` up to the end of the script, or of the block (RFC 5228 §8.2)."""
        out: list[Command] = []
        toks = self.toks
        while True:
            kind = toks[self.i][0]
            if kind == "ident":
                out.append(self.command())
            elif kind == ("}" if in_block else "end"):
                return out
            else:
                if in_block:
                    raise self.expected("end of compound block '}'")
                token = toks[self.i]
                raise self.fail(token, f"unexpected {_found(token)} found at (the presumed) end of file")

    def command(self) -> Command:
        """``command = identifier arguments (";" / block)`` (RFC 5228 §2.9, §8.2)."""
        _, name, pos = self.toks[self.i]
        self.i += 1
        line, column = self.where.where(pos)
        node = Command(name.lower(), [], [], line, column, end_line=line)
        node.has_test_list = self.arguments(node.args, node.tests)
        token = self.toks[self.i]
        if token[0] == ";":
            self.i += 1
            node.end_line = self.where.where(token[2])[0]
        elif token[0] == "{":
            self.i += 1
            self.enter(token)
            node.block = self.commands(True)
            node.end_line = self.where.where(self.toks[self.i][2])[0]
            self.i += 1
            self.depth -= 1
        else:
            raise self.misplaced(token)
        return node

    def misplaced(self, token: RawToken) -> SieveSyntaxError:
        """The error for what follows a command's arguments: a second test outside a test list is named as
        such (``if anyof (true), false``, RFC 5228 §8.2), anything else is an unexpected token."""
        after = self.toks[self.i + 1] if token[0] == "," else token
        if after[0] == "ident":
            return self.fail(after, f"unexpected test '{after[1]}' (several tests need a test list in '( )')")
        return self.expected("end of command ';' or the beginning of a compound block '{'")

    def arguments(self, args: list[Argument], tests: list[Test]) -> bool:
        """``arguments = *argument [test / test-list]`` into ``args`` and ``tests``; whether a test list was
        given (RFC 5228 §2.6, §8.2)."""
        toks, where, i = self.toks, self.where.where, self.i
        while True:
            kind, value, pos = toks[i]
            if kind == "string":
                i += 1
                args.append(Strings([value], False, *where(pos)))
            elif kind == "tag":
                i += 1
                args.append(Tag(value[1:].lower(), *where(pos)))
            elif kind == "number":
                i += 1
                args.append(Number(number_value(value), *where(pos)))
            elif kind == "[":
                self.i = i
                args.append(self.string_list())
                i = self.i
            else:
                break
        self.i = i
        if kind == "ident":
            tests.append(self.test())
        elif kind == "(":
            self.test_list(tests)
            return True
        return False

    def string_list(self) -> Strings:
        """``"[" string *("," string) "]"`` (RFC 5228 §2.4.2.1)."""
        line, column = self.where.where(self.toks[self.i][2])
        values: list[str] = []
        toks = self.toks
        while True:
            self.i += 1
            kind, value, _ = toks[self.i]
            if kind != "string":
                raise self.expected("a string")
            values.append(value)
            self.i += 1
            kind = toks[self.i][0]
            if kind == "]":
                self.i += 1
                return Strings(values, True, line, column)
            if kind != ",":
                token = self.toks[self.i]
                raise self.fail(token, f"expecting ',' or end of string list ']', but found {_found(token)}")

    def test(self) -> Test:
        """``test = identifier arguments`` (RFC 5228 §5, §8.2)."""
        token = self.toks[self.i]
        self.enter(token)
        self.i += 1
        line, column = self.where.where(token[2])
        node = Test(token[1].lower(), [], [], line, column)
        node.has_test_list = self.arguments(node.args, node.tests)
        self.depth -= 1
        return node

    def test_list(self, tests: list[Test]) -> None:
        """``"(" test *("," test) ")"`` (RFC 5228 §2.6.3)."""
        toks = self.toks
        while True:
            self.i += 1
            if toks[self.i][0] != "ident":
                raise self.expected("a test")
            tests.append(self.test())
            kind = toks[self.i][0]
            if kind == ")":
                self.i += 1
                return
            if kind != ",":
                raise self.expected("',' or ')'")


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def parse(text: str, *, max_size: int = MAX_SIZE, max_nesting: int = MAX_NESTING) -> list[Command]:
    """Parse a whole script into its list of top-level commands (RFC 5228 §8.2 ``start``).

    Raises:
        SieveSyntaxError: the script does not follow the grammar of RFC 5228 §8, or is over a bound.
    """
    size = _size(text)
    if size > max_size:
        raise SieveSyntaxError(1, 1, f"script is too large ({size} > {max_size} bytes)")
    return _Parser(text, max_nesting).commands(False)


def tokens(text: str) -> list[Token]:
    """The significant tokens of a text, comments dropped (RFC 5228 §2.2, §2.3, §8.1).

    Raises:
        SieveSyntaxError: a character that starts no token, an unterminated string or comment.
    """
    out: list[Token] = []
    for kind, value, pos in lex(text):
        if kind in ("ident", "tag", "number", "string"):
            out.append(Token(kind, value, pos))
        elif kind != "end":
            out.append(Token("punct", value, pos))
    return out
