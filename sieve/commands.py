# SPDX-License-Identifier: GPL-3.0-or-later
"""Commands compiled into operations over an evaluation :class:`~program.Context`.

RFC 5228 §3–§4 (control, keep, fileinto, redirect, discard), RFC 5429 (reject), RFC 5230/6131 (vacation), RFC
5232 (imap4flags), RFC 5229 (set), RFC 5435/5436 (notify mailto), RFC 5293 (editheader), RFC 6609 (include),
RFC 5463 (ihave, error).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

from . import actions as A
from .binding import Bound, Builder
from .errors import SieveCompileError, SieveRuntimeError
from .grammar import KNOWN_EXTENSIONS
from .message import decode_header_value
from .parse import Command, Strings
from .program import Block, Context, Op, Program, ReturnScript, StopScript, Value, run_block, truncate_utf8
from .sending import notify, redirect, vacation
from .testops import make_matcher

__all__ = ["PROTECTED_HEADERS", "Op", "build", "build_if", "merge_flags"]

_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Header fields deleteheader may not remove (RFC 5293 §6: Received; Auto-Submitted as Pigeonhole does).
PROTECTED_HEADERS = frozenset({"received", "auto-submitted"})


def merge_flags(current: list[str], added: list[str]) -> list[str]:
    """Add space-separated flags, ignoring case for duplicates (RFC 5232 §3)."""
    out = list(current)
    seen = {f.lower() for f in out}
    for text in added:
        for flag in text.split():
            if flag.lower() not in seen:
                seen.add(flag.lower())
                out.append(flag)
    return out


def _flag_values(ctx: Context, values: tuple[Value, ...]) -> tuple[str, ...]:
    return tuple(merge_flags([], ctx.expand_list(values)))


def _const(c: Builder, value: Value) -> str | None:
    return value if isinstance(value, str) else None


# -- control -------------------------------------------------------------------------------------------------
def _compile_branch(c: Builder, node: Command, depth: int) -> tuple[Callable[[Context], bool] | None, Block]:
    test = node.tests[0] if node.tests else None
    if test is not None and test.name == "ihave" and c.has("ihave") and _ihave_unknown(c, test):
        return c.test(test, depth + 1), ()
    added: set[str] = set()
    if test is not None and test.name == "ihave" and c.has("ihave"):
        arg = test.args[0] if test.args else None
        if isinstance(arg, Strings):
            added = set(arg.values) - c.required
            c.required |= added
    cond = c.test(test, 1) if test is not None else None
    block = c.block(node.block or [], depth + 1)
    c.required -= added
    return cond, block


def _ihave_unknown(c: Builder, test: object) -> bool:
    arg = getattr(test, "args", [None])[0] if getattr(test, "args", None) else None
    if not isinstance(arg, Strings):
        return False
    return any(v not in KNOWN_EXTENSIONS or v not in c.policy.extensions for v in arg.values)


def _branch_tests_message(node: Command) -> str:
    """Pigeonhole's wording for an ``if``/``elsif``/``else`` with the wrong tests (RFC 5228 §3.1)."""
    if node.name == "else":
        return "the else command accepts no sub-tests, but tests are specified"
    if not node.tests:
        return f"the {node.name} command requires one sub-test, but none is specified"
    return f"the {node.name} command requires one sub-test, but a list of tests is specified"


def build_if(c: Builder, nodes: list[Command], depth: int) -> Op | None:
    """``if``/``elsif``/``else`` (RFC 5228 §3.1): the first true branch runs."""
    branches: list[tuple[Callable[[Context], bool] | None, Block]] = []
    for node in nodes:
        if node.block is None:
            c.error(node, f"the {node.name} command requires a command block, but it is missing")
            return None
        if (
            (node.name == "else") == bool(node.tests)
            or len(node.tests) > 1
            or node.has_test_list
            or node.args
        ):
            c.error(node, _branch_tests_message(node))
            return None
        branches.append(_compile_branch(c, node, depth))
    if len(branches) == 1 and branches[0][0] is not None:
        return _single_if(branches[0][0], branches[0][1])

    def op(ctx: Context) -> None:
        for cond, block in branches:
            if cond is None or cond(ctx):
                run_block(ctx, block)
                return

    return op


def _single_if(cond: Callable[[Context], bool], block: Block) -> Op:
    """``if`` without ``elsif``/``else``, the common case, without the branch loop."""
    if len(block) == 1:
        only = block[0]

        def op1(ctx: Context) -> None:
            if cond(ctx):
                only(ctx)

        return op1

    def op(ctx: Context) -> None:
        if cond(ctx):
            for step in block:
                step(ctx)

    return op


def _stop(c: Builder, b: Bound, depth: int) -> Op:
    def op(ctx: Context) -> None:
        raise StopScript

    return op


def _return(c: Builder, b: Bound, depth: int) -> Op:
    def op(ctx: Context) -> None:
        raise ReturnScript

    return op


def _error(c: Builder, b: Bound, depth: int) -> Op:
    message = c.string(b.pos[0])

    def op(ctx: Context) -> None:
        raise SieveRuntimeError(ctx.expand(message))

    return op


# -- delivery ------------------------------------------------------------------------------------------------
def _keep(c: Builder, b: Bound, depth: int) -> Op:
    flags = c.strings(b.tags["flags"]) if "flags" in b.tags else None

    def op(ctx: Context) -> None:
        fl = _flag_values(ctx, flags) if flags is not None else tuple(ctx.flags)
        ctx.result.store("INBOX", False, False, fl, keep=True)

    return op


def _fileinto(c: Builder, b: Bound, depth: int) -> Op:
    """RFC 5228 §4.1; an empty name compiles and stores into INBOX at delivery, as in Pigeonhole."""
    mailbox, copy, create = c.string(b.pos[0]), "copy" in b.tags, "create" in b.tags
    flags = c.strings(b.tags["flags"]) if "flags" in b.tags else None
    literal = mailbox if isinstance(mailbox, str) else None

    def op(ctx: Context) -> None:
        fl = _flag_values(ctx, flags) if flags is not None else tuple(ctx.flags)
        ctx.result.store(literal if literal is not None else ctx.expand(mailbox), copy, create, fl)

    return op


def _discard(c: Builder, b: Bound, depth: int) -> Op:
    return lambda ctx: ctx.result.add(A.Discard())


def _reject(c: Builder, b: Bound, depth: int) -> Op:
    reason, extended = c.string(b.pos[0]), b.node.name == "ereject"
    return lambda ctx: ctx.result.add(A.Reject(ctx.expand(reason), extended))


# -- imap4flags ----------------------------------------------------------------------------------------------
def _flag_op(c: Builder, b: Bound, depth: int) -> Op:
    """``setflag``/``addflag``/``removeflag`` on the internal variable or a named one (RFC 5232 §3)."""
    name = b.node.name
    var = c.string(b.pos[0]) if b.pos[0] is not None else None
    values = c.strings(b.pos[1])
    if var is not None and not c.has("variables"):
        c.error(b.pos[0] or b.node, f'the variable form of {name} needs require "variables"')
    elif var is not None and isinstance(var, str) and not _IDENT.match(var):
        c.error(b.pos[0] or b.node, f"invalid variable name '{var}'")
    elif isinstance(var, str):
        _declare(c, b, var.lower())
    is_global = isinstance(var, str) and var.lower() in c.globals

    def apply(current: list[str], given: list[str]) -> list[str]:
        if name == "setflag":
            return merge_flags([], given)
        if name == "addflag":
            return merge_flags(current, given)
        drop = {f.lower() for g in given for f in g.split()}
        return [f for f in current if f.lower() not in drop]

    def op(ctx: Context) -> None:
        given = ctx.expand_list(values)
        if var is None:
            ctx.flags = apply(ctx.flags, given)
            return
        store = ctx.globals if is_global else ctx.vars
        key = ctx.expand(var).lower()
        ctx.assign(key, " ".join(apply(store.get(key, "").split(), given)), is_global)

    return op


# -- variables -----------------------------------------------------------------------------------------------
def _quote_wildcard(text: str) -> str:
    return re.sub(r"([*?\\])", r"\\\1", text)


_UPPER_ASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = str.maketrans(_UPPER_ASCII, _UPPER_ASCII.lower())
_UPPER = str.maketrans(_UPPER_ASCII.lower(), _UPPER_ASCII)
#: Modifiers by precedence (RFC 5229 §4.1); case changes touch ASCII letters only, as in Pigeonhole.
_MODIFIERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("lower", lambda s: s.translate(_LOWER)),
    ("upper", lambda s: s.translate(_UPPER)),
    ("lowerfirst", lambda s: s[:1].translate(_LOWER) + s[1:]),
    ("upperfirst", lambda s: s[:1].translate(_UPPER) + s[1:]),
    ("quotewildcard", _quote_wildcard),
    ("encodeurl", lambda s: urllib.parse.quote(s, safe="-._~")),
    ("length", lambda s: str(len(s))),
)


def _set(c: Builder, b: Bound, depth: int) -> Op:
    """``set`` with its modifiers applied in precedence order (RFC 5229 §4)."""
    name, value = c.string(b.pos[0]), c.string(b.pos[1])
    if not isinstance(name, str) or not _IDENT.match(name):
        c.error(b.pos[0] or b.node, f"invalid variable name '{name}'")
        return lambda ctx: None
    key = name.lower()
    _declare(c, b, key)
    mods = [fn for mod, fn in _MODIFIERS if mod in b.tags]
    is_global = key in c.globals
    limit = c.policy.max_variable_size

    def op(ctx: Context) -> None:
        text = truncate_utf8(ctx.expand(value), limit)  # cut before the modifiers, as Pigeonhole does
        for fn in mods:
            text = fn(text)
        ctx.assign(key, text, is_global)

    return op


def _declare(c: Builder, b: Bound, key: str) -> None:
    """Count a variable of the script's scope (RFC 5229 §3); past ``max_variables``, a compile error."""
    if key in c.globals or key in c.variables:
        return
    if len(c.variables) >= c.policy.max_variables:
        c.error(
            b.pos[0] or b.node,
            f"(implicit) declaration of new variable '{key}' exceeds the limit "
            f"(max variables: {c.policy.max_variables})",
        )
        return
    c.variables.add(key)


# -- editheader ----------------------------------------------------------------------------------------------
def _addheader(c: Builder, b: Bound, depth: int) -> Op:
    """``addheader [:last] name value`` (RFC 5293 §4)."""
    name, value, last = c.string(b.pos[0]), c.string(b.pos[1]), "last" in b.tags
    if isinstance(name, str) and not _FIELD_NAME.match(name):
        c.error(b.pos[0] or b.node, f"invalid header field name '{name}'")

    def op(ctx: Context) -> None:
        field, text = ctx.expand(name), ctx.expand(value)
        if not _FIELD_NAME.match(field):
            return
        headers = list(ctx.msg.headers)
        headers.insert(len(headers) if last else 0, (field, text))
        ctx.msg.set_headers(headers)
        ctx.result.add(A.AddHeader(field, text, last))

    return op


def _deleteheader(c: Builder, b: Bound, depth: int) -> Op:
    """``deleteheader [:index N [:last]] [MATCH] name [value-patterns]`` (RFC 5293 §5)."""
    name = c.string(b.pos[0])
    patterns = make_matcher(c, b, c.strings(b.pos[1])) if b.pos[1] is not None else None
    index = c.number(b.tags["index"]) if "index" in b.tags else 0
    last = "last" in b.tags
    if isinstance(name, str) and not _FIELD_NAME.match(name):
        c.error(b.pos[0] or b.node, f"invalid header field name '{name}'")

    def op(ctx: Context) -> None:
        field = ctx.expand(name).lower()
        if field in PROTECTED_HEADERS:
            return
        headers = ctx.msg.headers
        positions = [i for i, (n, _) in enumerate(headers) if n.lower() == field]
        if index:
            positions = [positions[-index if last else index - 1]] if index <= len(positions) else []
        if patterns is not None:
            positions = [i for i in positions if patterns(ctx, [decode_header_value(headers[i][1])])]
        if positions:
            drop = set(positions)
            ctx.msg.set_headers([h for i, h in enumerate(headers) if i not in drop])
            ctx.result.add(A.DeleteHeader(ctx.expand(name), tuple(p + 1 for p in positions)))

    return op


# -- include -------------------------------------------------------------------------------------------------
def _global(c: Builder, b: Bound, depth: int) -> Op | None:
    """``global`` names variables shared with included scripts (RFC 6609 §3.3)."""
    if not c.has("variables"):
        c.error(b.node, 'the global command needs require "variables"')
    for name in c.strings(b.pos[0]):
        if not isinstance(name, str) or not _IDENT.match(name):
            c.error(b.pos[0] or b.node, f"invalid variable name '{name}'")
        elif name.lower() not in c.globals and len(c.globals) >= c.policy.max_variables:
            c.error(
                b.pos[0] or b.node,
                f"declaration of new global variable '{name}' exceeds the limit "
                f"(max variables: {c.policy.max_variables})",
            )
        else:
            c.globals.add(name.lower())
    return None


def _included(c: Builder, b: Bound, location: str, name: str) -> Program | None:
    """The compiled script an ``include`` names, loaded and compiled once for the whole include tree, which
    holds at most ``max_includes`` scripts (RFC 6609 §3.2; Pigeonhole's ``sieve_include_max_includes``).
    Compiling every ``include`` anew would take time exponential in the nesting depth."""
    key = (location, name)
    if key not in c.includes:
        if len(c.includes) >= c.policy.max_includes:
            c.error(b.node, f"too many scripts included (max {c.policy.max_includes})")
            return None
        text = c.locator.load(location, name) if c.locator is not None else None
        try:
            c.includes[key] = None if text is None else c.include(text)
        except SieveCompileError as exc:
            c.includes[key] = str(exc)
    found = c.includes[key]
    if found is None and "optional" not in b.tags:
        c.error(b.node, f"included {location} script '{name}' does not exist")
    elif isinstance(found, str):
        c.error(b.node, f"failed to compile included script '{name}': {found}")
    return found if isinstance(found, Program) else None


def _include(c: Builder, b: Bound, depth: int) -> Op | None:
    """``include [:personal|:global] [:once] [:optional] name``, compiled now (RFC 6609 §3.2)."""
    name = c.string(b.pos[0])
    location = "global" if "global" in b.tags else "personal"
    if not isinstance(name, str) or not name or "/" in name:
        c.error(b.pos[0] or b.node, f"invalid script name '{name}'")
        return None
    if c.depth + 1 > c.policy.max_include_depth:
        c.error(b.node, f"includes are nested too deeply (max {c.policy.max_include_depth})")
        return None
    program = _included(c, b, location, name)
    if program is None:
        return None
    key, once = f"{location}:{name}", "once" in b.tags

    def op(ctx: Context) -> None:
        if once and key in ctx.included:
            return
        ctx.meter.tick()  # a script included many times is run as many times
        ctx.included.add(key)
        saved, saved_match = ctx.vars, ctx.match_vars
        ctx.vars, ctx.match_vars = {}, []
        try:
            run_block(ctx, program.block)
        except ReturnScript:
            pass
        finally:
            ctx.vars, ctx.match_vars = saved, saved_match

    return op


_BUILDERS: dict[str, Callable[[Builder, Bound, int], Op | None]] = {
    "stop": _stop,
    "return": _return,
    "error": _error,
    "keep": _keep,
    "fileinto": _fileinto,
    "redirect": redirect,
    "discard": _discard,
    "reject": _reject,
    "ereject": _reject,
    "vacation": vacation,
    "setflag": _flag_op,
    "addflag": _flag_op,
    "removeflag": _flag_op,
    "set": _set,
    "notify": notify,
    "addheader": _addheader,
    "deleteheader": _deleteheader,
    "global": _global,
    "include": _include,
}


def build(c: Builder, b: Bound, depth: int) -> Op | None:
    """Build the operation of a bound command."""
    assert isinstance(b.node, Command)
    return _BUILDERS[b.node.name](c, b, depth)
