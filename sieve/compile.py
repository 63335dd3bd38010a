# SPDX-License-Identifier: GPL-3.0-or-later
"""Syntax tree → :class:`~program.Program`: capability, ``require`` placement and policy checks, then
operations.

Checks made here (each failure is a ``line:column: message`` diagnostic, and all of them are reported):
unknown commands, tests, tags and comparators (RFC 5228 §2.6, §2.7.3); arguments of the wrong kind or number;
extensions used without ``require`` and ``require`` anywhere but at the start (RFC 5228 §3.2); the policy's
script size, nesting depth and allowed extensions. The program is a tree of closures built once and evaluated
many times (:mod:`evaluate`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict

from . import commands as C
from . import testops as T
from .binding import Bound
from .errors import Diagnostic, SieveCompileError, SieveSyntaxError
from .grammar import COMMANDS, KNOWN_EXTENSIONS, TESTS, Signature
from .host import Policy, ScriptLocator
from .parse import Argument, Command, Number, Strings, Tag, Test, parse
from .program import Block, MatchRef, Program, Template, Value, VarRef

__all__ = ["Bound", "Compiler", "Program", "compile_script"]

_ALWAYS = frozenset({"comparator-i;octet", "comparator-i;ascii-casemap"})
_IMPLIES = {"vacation-seconds": ("vacation",)}
_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_ENCODED = re.compile(r"\$\{(hex|unicode):([^}]*)\}", re.IGNORECASE)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEX_PAIRS = re.compile(r"[ \t\r\n]*(?:[0-9A-Fa-f]{1,2}(?:[ \t\r\n]+|(?=\Z)))*\Z")
_UNICODE = re.compile(r"[ \t\r\n]*(?:[0-9A-Fa-f]+(?:[ \t\r\n]+|(?=\Z)))*\Z")


class Compiler:
    """Compiles one script (and the scripts it includes) under a policy."""

    def __init__(
        self,
        policy: Policy,
        locator: ScriptLocator | None = None,
        depth: int = 0,
        includes: dict[tuple[str, str], Program | str | None] | None = None,
    ) -> None:
        self.policy = policy
        self.includes: dict[tuple[str, str], Program | str | None] = includes if includes is not None else {}
        self.locator = locator
        self.depth = depth
        self.errors: list[Diagnostic] = []
        self.required: set[str] = set()
        self.globals: set[str] = set()
        self.variables: set[str] = set()
        self.included: set[tuple[str, str]] = set()
        self.notes: list[tuple[str, int, int, str | None]] = []

    # -- diagnostics and extensions -----------------------------------------------------------------------
    def error(self, node: Command | Test | Argument, message: str) -> None:
        """Record a diagnostic at a node."""
        self.errors.append(Diagnostic(node.line, node.column, message))

    def note(self, kind: str, node: Command | Test | Argument, value: str | None) -> None:
        """Remember a literal fact for the checks made after compiling (see :attr:`Program.notes`)."""
        self.notes.append((kind, node.line, node.column, value))

    def has(self, ext: str) -> bool:
        """Whether the script required ``ext`` (RFC 5228 §3.2)."""
        return ext in self.required or ext in _ALWAYS

    # -- strings ------------------------------------------------------------------------------------------
    def _decode_encoded(self, text: str, node: Argument) -> str:
        """``${hex:…}`` and ``${unicode:…}`` (RFC 5228 §2.4.2.4)."""

        def one(m: re.Match[str]) -> str:
            kind, body = m.group(1).lower(), m.group(2)
            if kind == "hex":
                if not _HEX_PAIRS.match(body) or not body.strip():
                    return m.group(0)
                raw = bytes(int(h, 16) for h in body.split())
                return raw.decode("utf-8", "replace")
            if not _UNICODE.match(body) or not body.strip():
                return m.group(0)
            out = []
            for h in body.split():
                cp = int(h, 16)
                if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                    self.error(node, f"invalid unicode character U+{h} in encoded character substitution")
                    return m.group(0)
                out.append(chr(cp))
            return "".join(out)

        return _ENCODED.sub(one, text)

    def value(self, text: str, node: Argument) -> Value:
        """A string argument, decoded and, with variables, turned into a template (RFC 5229 §3)."""
        if "${" not in text:
            return text
        if self.has("encoded-character"):
            text = self._decode_encoded(text, node)
        if not self.has("variables") or "${" not in text:
            return text
        parts: list[str | VarRef | MatchRef] = []
        pos = 0
        for m in _VARIABLE.finditer(text):
            name = m.group(1)
            if name.isdigit():
                ref: VarRef | MatchRef = MatchRef(int(name))
            elif _IDENT.match(name):
                ref = VarRef(name.lower(), name.lower() in self.globals)
            else:
                continue
            parts.extend((text[pos : m.start()], ref))
            pos = m.end()
        if not parts:
            return text
        parts.append(text[pos:])
        return Template(tuple(p for p in parts if p != ""))

    def string(self, arg: Argument | None) -> Value:
        """The value of a single-string argument."""
        assert isinstance(arg, Strings)
        return self.value(arg.values[0], arg)

    def strings(self, arg: Argument | None) -> tuple[Value, ...]:
        """The values of a string-list argument."""
        assert isinstance(arg, Strings)
        values = arg.values
        if len(values) == 1:
            return (self.value(values[0], arg),)
        return tuple([self.value(v, arg) for v in values])

    def number(self, arg: Argument | None) -> int:
        """The value of a number argument."""
        assert isinstance(arg, Number)
        return arg.value

    # -- arguments ----------------------------------------------------------------------------------------
    def _kind_ok(self, arg: Argument, kind: str) -> bool:
        if kind == "number":
            return isinstance(arg, Number)
        if kind == "string":
            return isinstance(arg, Strings) and not arg.is_list
        return isinstance(arg, Strings)

    def bind(self, node: Command | Test, sig: Signature) -> Bound | None:
        """Match arguments to a signature; None (with diagnostics) when they do not fit."""
        bound = Bound(node)
        args, i, ok = node.args, 0, True
        positional: list[Argument] = []
        while i < len(args):
            arg = args[i]
            i += 1
            if not isinstance(arg, Tag):
                positional.append(arg)
                continue
            ok = self._bind_tag(bound, sig, arg, args, i) and ok
            if ok and positional:  # RFC 5228 §2.6.2: tagged arguments come before positional ones
                what = f"{node.name} {_what(node)}"
                self.error(
                    arg,
                    f"encountered an unexpected tagged argument ':{arg.name}' while validating "
                    f"positional arguments for the {what}",
                )
                ok = False
            if ok and sig.tags[arg.name].arg is not None:
                i += 1
        if not ok:
            return None
        return bound if self._bind_positional(bound, sig, positional) else None

    def _bind_tag(self, bound: Bound, sig: Signature, tag: Tag, args: list[Argument], i: int) -> bool:
        spec = sig.tags.get(tag.name)
        if spec is None or (spec.ext is not None and not self.has(spec.ext)):
            what = f"{bound.node.name} {_what(bound.node)}"
            self.error(tag, f"unknown tagged argument ':{tag.name}' for the {what}")
            return False
        if tag.name in bound.tags:
            self.error(tag, f"tagged argument ':{tag.name}' given twice")
            return False
        if spec.group is not None:
            for other in bound.tags:
                if sig.tags[other].group == spec.group:
                    self.error(tag, f"tagged arguments ':{other}' and ':{tag.name}' exclude one another")
                    return False
        value: Argument | None = None
        if spec.arg is not None:
            if i >= len(args) or not self._kind_ok(args[i], spec.arg):
                self.error(
                    tag, f"':{tag.name}' needs a {spec.arg.replace('strings', 'string list')} argument"
                )
                return False
            value = args[i]
        bound.tags[tag.name] = value
        bound.tag_nodes[tag.name] = tag
        return True

    def _bind_positional(self, bound: Bound, sig: Signature, given: list[Argument]) -> bool:
        kinds = list(sig.positional)
        if len(given) < len(kinds) and len(given) >= len(kinds) - sig.optional:
            missing = len(kinds) - len(given)
            kinds = kinds[: len(given)] if sig.optional_last else kinds[missing:]
            pad: list[Argument | None] = [None] * missing
            present: list[Argument | None] = list(given)
            bound.pos = present + pad if sig.optional_last else pad + present
        else:
            bound.pos = list(given)
        if len(given) != len(kinds):
            self.error(
                bound.node,
                f"the {bound.node.name} {_what(bound.node)} requires {len(sig.positional)} "
                f"positional argument(s), but {len(given)} is/are specified",
            )
            return False
        for arg, kind in zip(given, kinds, strict=True):
            if not self._kind_ok(arg, kind):
                self.error(
                    arg,
                    f"the {bound.node.name} {_what(bound.node)} expects a "
                    f"{kind.replace('strings', 'string list')} here",
                )
                return False
        return True

    # -- tests --------------------------------------------------------------------------------------------
    def test(self, node: Test, depth: int) -> T.TestFn:
        """Compile a test (RFC 5228 §5) into a predicate."""
        if depth > self.policy.max_test_nesting:
            self.error(node, f"test nesting is too deep (max {self.policy.max_test_nesting})")
            return T.constant(False)
        sig = TESTS.get(node.name)
        if sig is None or (sig.ext is not None and not self.has(sig.ext)):
            self.error(node, f"unknown test '{node.name}'" + _needs(sig))
            return T.constant(False)
        if not self._check_tests(node, sig):
            return T.constant(False)
        bound = self.bind(node, sig)
        if bound is None:
            return T.constant(False)
        subs = [self.test(t, depth + 1) for t in node.tests]
        return T.build(self, bound, subs)

    def _check_tests(self, node: Command | Test, sig: Signature) -> bool:
        n, has_list = len(node.tests), node.has_test_list
        if sig.tests == "none" and n == 0:
            return True
        if sig.tests == "one" and n == 1 and not has_list:
            return True
        if sig.tests == "list" and has_list:
            return True
        if sig.tests == "none":
            message = f"the {node.name} {_what(node)} accepts no sub-tests, but tests are specified"
            if isinstance(node, Command):
                message = f"missing semicolon ';' after {node.name} command"
        elif sig.tests == "one":
            message = f"the {node.name} {_what(node)} requires one sub-test, but {_given_tests(n, has_list)}"
        else:
            message = (
                f"the {node.name} {_what(node)} requires a list of sub-tests, but {_given_tests(n, False)}"
            )
        self.error(node, message)
        return False

    # -- commands -----------------------------------------------------------------------------------------
    def block(self, nodes: list[Command], depth: int, top: bool = False) -> Block:
        """Compile a block, with ``if``/``elsif``/``else`` chains and ``require`` placement (RFC 5228 §3)."""
        if depth > self.policy.max_block_nesting:
            if nodes:
                self.error(nodes[0], f"blocks are nested too deeply (max {self.policy.max_block_nesting})")
            return ()
        ops: list[C.Op] = []
        requires_allowed = top
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if node.name == "require":
                if not requires_allowed:
                    self.error(
                        node, "require commands can only be placed at top level at the beginning of the file"
                    )
                i += 1
                continue
            requires_allowed = False
            if node.name == "if":
                j = i + 1
                while j < len(nodes) and nodes[j].name in ("elsif", "else") and nodes[j - 1].name != "else":
                    j += 1
                op = C.build_if(self, nodes[i:j], depth)
                i = j
            else:
                op = self.command(node, depth)
                i += 1
            if op is not None:
                ops.append(op)
        return tuple(ops)

    def command(self, node: Command, depth: int) -> C.Op | None:
        """Compile one non-control command (RFC 5228 §4 and extensions)."""
        sig = COMMANDS.get(node.name)
        if node.name in ("elsif", "else"):
            self.error(node, f"the {node.name} command must follow an if or elseif command")
            return None
        if sig is None or (sig.ext is not None and not self.has(sig.ext)):
            self.error(node, f"unknown command '{node.name}'" + _needs(sig))
            return None
        if node.block is not None and not sig.block:
            self.error(node, f"the {node.name} command does not take a block")
            return None
        if not self._check_tests(node, sig):
            return None
        bound = self.bind(node, sig)
        return None if bound is None else C.build(self, bound, depth)

    def requires(self, nodes: list[Command]) -> None:
        """Collect the leading ``require`` commands (RFC 5228 §3.2) and check the names."""
        for node in nodes:
            if node.name != "require":
                break
            if node.block is not None:
                self.error(node, "the require command does not take a block")
                continue
            if not self._check_tests(node, COMMANDS["require"]):
                continue
            bound = self.bind(node, COMMANDS["require"])
            if bound is None:
                continue
            arg = bound.pos[0]
            assert isinstance(arg, Strings)
            for name in arg.values:
                if name not in KNOWN_EXTENSIONS or name not in self.policy.extensions | _ALWAYS:
                    self.error(arg, f"unknown Sieve capability '{name}'")
                else:
                    self.required.add(name)
                    self.required.update(_IMPLIES.get(name, ()))

    def include(self, text: str) -> Program:
        """Compile an included script one level deeper, under the same policy (RFC 6609 §3.2)."""
        return Compiler(self.policy, self.locator, self.depth + 1, self.includes).compile(text)

    def compile(self, text: str) -> Program:
        """Compile a whole script text."""
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.policy.max_script_size:
            raise SieveCompileError(
                [Diagnostic(1, 1, f"script is too large ({size} > {self.policy.max_script_size} bytes)")]
            )
        nodes = parse(text, max_size=self.policy.max_script_size)
        self.requires(nodes)
        block = self.block(nodes, 0, top=True)
        if self.errors:
            raise SieveCompileError(self.errors)
        return Program(block, frozenset(self.required), self.policy, size, tuple(self.notes))


def _what(node: Command | Test) -> str:
    return "command" if isinstance(node, Command) else "test"


def _given_tests(n: int, has_list: bool) -> str:
    return (
        "a list of tests is specified"
        if has_list
        else "none is specified"
        if n == 0
        else "a single test is specified"
    )


def _needs(sig: Signature | None) -> str:
    return f" (missing require for '{sig.ext}')" if sig is not None and sig.ext else ""


#: Programs compiled without a locator, by the digest of their text and their policy (:func:`compile_script`).
_COMPILED: OrderedDict[tuple[bytes, Policy], Program] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
#: How many programs :data:`_COMPILED` keeps, the least recently asked for dropped first.
CACHE_SIZE = 256


def compile_script(
    text: str, policy: Policy | None = None, locator: ScriptLocator | None = None, *, cached: bool = True
) -> Program:
    """Compile a Sieve script under a policy; ``locator`` resolves ``include`` (RFC 6609).

    A script compiled without a locator is kept by the digest of its text and its policy, and the same
    program is returned when that text is compiled again under that policy (a client's CHECKSCRIPT then
    PUTSCRIPT, the same admin script for every delivery): a program is never changed once compiled, and
    evaluations share it. With a locator the included scripts may change, so the script is compiled anew;
    so it is with ``cached=False``.

    Raises:
        SieveCompileError: with every diagnostic as ``line:column: message``.
    """
    policy = policy or Policy()
    if locator is not None or not cached:
        return Compiler(policy, locator).compile(text)
    key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest(), policy)
    with _COMPILED_LOCK:
        program = _COMPILED.get(key)
        if program is not None:
            _COMPILED.move_to_end(key)
            return program
    program = Compiler(policy, None).compile(text)
    with _COMPILED_LOCK:
        _COMPILED[key] = program
        while len(_COMPILED) > CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return program


__all__ += ["SieveSyntaxError"]
