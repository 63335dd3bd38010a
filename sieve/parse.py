# SPDX-License-Identifier: GPL-3.0-or-later
"""Sieve text → syntax tree (RFC 5228 §2 lexical structure, §8 grammar).

The grammar of Sieve is generic: every command and test is an identifier followed by arguments (tags, numbers,
string lists), an optional test or test list, and for commands a block or a semicolon. This module checks only
that grammar; which commands, tags and extensions exist is checked by :mod:`compile`. Every node carries its line
and column so that errors read ``line:column: message``.

sievelib 1.6 has a fixed table of known commands that both rejects valid scripts and accepts invalid ones
(see REFERENCES.md), and reports no columns, so the grammar is parsed here and all semantic checks live in
:mod:`compile`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .errors import SieveSyntaxError

__all__ = ["Argument", "Command", "Number", "Strings", "Tag", "Test", "parse"]


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


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
      |(?P<hash>\#[^\n]*)
      |(?P<bracket>/\*.*?\*/)
      |(?P<text>text:[ \t]*(?:\#[^\n]*)?\r?\n)
      |(?P<quoted>"(?:[^"\\]|\\.)*")
      |(?P<number>[0-9]+[KMGkmg]?)
      |(?P<tag>:[A-Za-z_][A-Za-z0-9_]*)
      |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<punct>[;,\[\](){}])""",
    re.VERBOSE | re.DOTALL,
)
_QUANTIFIERS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_MAX_NUMBER = (1 << 63) - 1


@dataclass(slots=True)
class _Token:
    kind: str
    value: str
    pos: int


class _Lexer:
    """Splits the script into tokens, with offsets that map back to line and column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, pos: int) -> tuple[int, int]:
        """1-based line and column of an offset."""
        index = bisect.bisect_right(self.line_starts, pos) - 1
        return index + 1, pos - self.line_starts[index] + 1

    def fail(self, pos: int, message: str) -> SieveSyntaxError:
        line, column = self.where(pos)
        return SieveSyntaxError(line, column, message)

    def tokens(self) -> list[_Token]:
        """Every significant token, comments and white space dropped (RFC 5228 §2.2, §2.3)."""
        out: list[_Token] = []
        text, pos, end = self.text, 0, len(self.text)
        while pos < end:
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.fail(pos, self._bad_char(pos))
            kind = m.lastgroup or ""
            if kind == "text":
                value, next_pos = self._multiline(m.end())
                out.append(_Token("string", value, pos))
                pos = next_pos
                continue
            if kind == "quoted":
                out.append(_Token("string", _UNESCAPE.sub(r"\1", m.group()[1:-1]), pos))
            elif kind not in ("ws", "hash", "bracket"):
                out.append(_Token(kind, m.group(), pos))
            pos = m.end()
        out.append(_Token("eof", "", end))
        return out

    def _bad_char(self, pos: int) -> str:
        if self.text.startswith("/*", pos):
            return "unterminated comment"
        if self.text[pos] == '"':
            return "unterminated string"
        return f"unexpected character {self.text[pos]!r}"

    def _multiline(self, pos: int) -> tuple[str, int]:
        """A ``text:`` string up to a line holding a single dot; dot-stuffing undone (RFC 5228 §2.4.2)."""
        lines: list[str] = []
        text = self.text
        while True:
            nl = text.find("\n", pos)
            if nl < 0:
                raise self.fail(pos, "unterminated multi-line string")
            line = text[pos:nl].removesuffix("\r")
            if line == ".":
                return "".join(lines), nl + 1
            ending = text[pos + len(line) : nl + 1]
            lines.append((line[1:] if line.startswith("..") else line) + ending)
            pos = nl + 1


class _Parser:
    """Recursive descent over the token list (RFC 5228 §8.2)."""

    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text)
        self.toks = self.lexer.tokens()
        self.i = 0

    def peek(self) -> _Token:
        return self.toks[self.i]

    def take(self) -> _Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Token, expected: str) -> SieveSyntaxError:
        found = "end of script" if tok.kind == "eof" else repr(tok.value)
        return self.lexer.fail(tok.pos, f"expected {expected} but found {found}")

    def commands(self, closing: str) -> list[Command]:
        out: list[Command] = []
        while True:
            tok = self.peek()
            if tok.kind == "eof" and closing == "eof":
                return out
            if tok.kind == "punct" and tok.value == "}" and closing == "}":
                return out
            out.append(self.command())

    def command(self) -> Command:
        tok = self.take()
        if tok.kind != "ident":
            raise self.fail(tok, "a command")
        line, column = self.lexer.where(tok.pos)
        args, tests, has_list = self.arguments()
        cmd = Command(tok.value.lower(), args, tests, line, column, has_test_list=has_list)
        end = self.take()
        if end.kind == "punct" and end.value == ";":
            cmd.end_line = self.lexer.where(end.pos)[0]
            return cmd
        if end.kind == "punct" and end.value == "{":
            cmd.block = self.commands("}")
            cmd.end_line = self.lexer.where(self.take().pos)[0]
            return cmd
        raise self.fail(end, "';' or '{'")

    def arguments(self) -> tuple[list[Argument], list[Test], bool]:
        args: list[Argument] = []
        while True:
            tok = self.peek()
            if tok.kind == "tag":
                self.i += 1
                line, column = self.lexer.where(tok.pos)
                args.append(Tag(tok.value[1:].lower(), line, column))
            elif tok.kind == "number":
                self.i += 1
                args.append(self.number(tok))
            elif tok.kind == "string" or (tok.kind == "punct" and tok.value == "["):
                args.append(self.strings())
            else:
                break
        tok = self.peek()
        if tok.kind == "ident":
            return args, [self.test()], False
        if tok.kind == "punct" and tok.value == "(":
            return args, self.test_list(), True
        return args, [], False

    def number(self, tok: _Token) -> Number:
        line, column = self.lexer.where(tok.pos)
        text = tok.value
        factor = _QUANTIFIERS.get(text[-1].lower(), 1)
        value = int(text.rstrip("KMGkmg")) * factor
        if value > _MAX_NUMBER:
            raise self.lexer.fail(tok.pos, f"number {text} is too large")
        return Number(value, line, column)

    def strings(self) -> Strings:
        tok = self.take()
        line, column = self.lexer.where(tok.pos)
        if tok.kind == "string":
            return Strings([tok.value], False, line, column)
        values: list[str] = []
        while True:
            item = self.take()
            if item.kind != "string":
                raise self.fail(item, "a string in the string list")
            values.append(item.value)
            sep = self.take()
            if sep.kind == "punct" and sep.value == "]":
                return Strings(values, True, line, column)
            if not (sep.kind == "punct" and sep.value == ","):
                raise self.fail(sep, "',' or ']'")

    def test(self) -> Test:
        tok = self.take()
        if tok.kind != "ident":
            raise self.fail(tok, "a test")
        line, column = self.lexer.where(tok.pos)
        args, tests, has_list = self.arguments()
        return Test(tok.value.lower(), args, tests, line, column, has_test_list=has_list)

    def test_list(self) -> list[Test]:
        self.take()
        tests = [self.test()]
        while True:
            sep = self.take()
            if sep.kind == "punct" and sep.value == ")":
                return tests
            if not (sep.kind == "punct" and sep.value == ","):
                raise self.fail(sep, "',' or ')'")
            tests.append(self.test())


def parse(text: str) -> list[Command]:
    """Parse a whole script into its list of top-level commands.

    Raises:
        SieveSyntaxError: the script does not follow the grammar of RFC 5228 §8.
    """
    parser = _Parser(text)
    return parser.commands("eof")
