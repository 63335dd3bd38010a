# SPDX-License-Identifier: GPL-3.0-or-later
"""The site policy applied to every script that is stored: compile checks, then the checks made after
compiling.

The compiler (:mod:`compile`) already refuses extensions the policy does not allow (RFC 5228 §3.2, as an
unknown capability, like Pigeonhole) and limits size and nesting. Here, over the literal facts it noted
(:attr:`Program.notes`), we add what an académie asks: ``redirect`` only to allowed domains and at most
``max_redirects`` distinct addresses (RFC 5228 §4.2); ``notify`` recipients and ``:from`` (RFC 5435 §3)
and vacation's ``:from`` and ``:addresses`` (RFC 5230 §4.4, §4.5) in the same domains; a vacation
``:handle`` written in the script, not computed (RFC 5230 §4.2: one reply per sender and handle). A
vacation period outside the site's bounds is not refused: the compiler clamps it, as Pigeonhole does (RFC
5230 §4.1). A redirect to a computed address (a variable, RFC 5229) is refused when the domains are
restricted, since it cannot be checked before the message arrives; delivery checks the actions again
(`delivery.forwarding`).

:func:`report` formats errors for ManageSieve (RFC 5804 §2.6 answers ``NO`` with them) and the CLI:
``name: line:column: message.`` (Pigeonhole's wording of the message, with the column it leaves out) and a
last line ``name: error: validation failed.`` (``parse failed.`` for a syntax error), as Pigeonhole ends.
"""

from __future__ import annotations

from .compile import Program, compile_script
from .errors import Diagnostic, SieveCompileError, SieveSyntaxError
from .host import Policy, ScriptLocator
from .mailto import mailto_recipients

__all__ = ["check_script", "policy_problems", "redirect_allowed", "report"]


def redirect_allowed(address: str, domains: frozenset[str]) -> bool:
    """Whether ``address`` lies in one of ``domains`` or their subdomains (any domain when empty)."""
    if not domains:
        return True
    domain = address.strip().rpartition("@")[2].rstrip(">").lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)


def _allowed_text(domains: frozenset[str]) -> str:
    return ", ".join(sorted(domains))


def policy_problems(program: Program, policy: Policy) -> list[Diagnostic]:
    """The site-policy errors of a compiled program (empty when it complies)."""
    problems: list[Diagnostic] = []
    targets: set[str] = set()
    for kind, line, column, value in program.notes:
        if kind == "redirect":
            problems.extend(_redirect_problems(line, column, value, policy, targets))
        elif kind == "vacation-handle":
            problems.extend(_handle_problems(line, column, value, policy.redirect_domains))
        elif kind in _OUTBOUND:
            problems.extend(_outbound_problems(kind, line, column, value, policy.redirect_domains))
    return problems


def _redirect_problems(
    line: int, column: int, value: str | None, policy: Policy, targets: set[str]
) -> list[Diagnostic]:
    domains = policy.redirect_domains
    if value is None:
        targets.add(f"?{line}:{column}")
        if domains:
            return [
                Diagnostic(
                    line,
                    column,
                    "redirect to a computed address is not allowed: mail may only be "
                    f"forwarded to addresses in {_allowed_text(domains)}",
                )
            ]
    elif not redirect_allowed(value, domains):
        return [
            Diagnostic(
                line,
                column,
                f"redirect to '{value.strip()}' is not allowed: mail may only be "
                f"forwarded to addresses in {_allowed_text(domains)}",
            )
        ]
    else:
        targets.add(value.strip().lower())
    if len(targets) > policy.max_redirects:
        return [
            Diagnostic(
                line,
                column,
                f"too many redirect actions: at most {policy.max_redirects} "
                "distinct addresses may be forwarded to",
            )
        ]
    return []


#: What else sends mail out or speaks for the user, held to ``redirect_domains`` like redirect: notify
#: recipients (RFC 5435 §3, RFC 5436 §2), vacation's :from and :addresses (RFC 5230 §4.4, §4.5).
_OUTBOUND = {
    "notify": ("notify", "notifications may only be sent to"),
    "vacation-from": ("vacation :from", "replies may only be sent from"),
    "vacation-address": ("vacation :addresses", "replies may only be sent for"),
    "notify-from": ("notify :from", "notifications may only be sent from"),
}


def _handle_problems(line: int, column: int, value: str | None, domains: frozenset[str]) -> list[Diagnostic]:
    """RFC 5230 §4.2: a ``:handle`` built from variables could differ for every message and so answer one
    sender without limit; under a forwarding policy the handle must be literal."""
    if not domains or value is not None:
        return []
    message = (
        "vacation :handle with a computed value is not allowed: while mail is held to "
        f"{_allowed_text(domains)}, replies are limited by a handle written in the script"
    )
    return [Diagnostic(line, column, message)]


def _outbound_problems(
    kind: str, line: int, column: int, value: str | None, domains: frozenset[str]
) -> list[Diagnostic]:
    """The forwarding policy for notify and vacation: every address in ``domains`` (any when empty)."""
    if not domains:
        return []
    what, rule = _OUTBOUND[kind]
    allowed = f"{rule} addresses in {_allowed_text(domains)}"
    if value is None:
        return [Diagnostic(line, column, f"{what} with a computed address is not allowed: {allowed}")]
    addresses = (mailto_recipients(value) or []) if kind == "notify" else [value]
    return [
        Diagnostic(line, column, f"{what} '{address.strip()}' is not allowed: {allowed}")
        for address in addresses
        if not redirect_allowed(address, domains)
    ]


def check_script(text: str, policy: Policy, locator: ScriptLocator | None = None) -> Program:
    """Compile ``text`` and apply the site policy.

    Raises:
        SieveCompileError: with every compile and policy error, each with its line and column.
    """
    program = compile_script(text, policy, locator)
    problems = policy_problems(program, policy)
    if problems:
        raise SieveCompileError(problems)
    return program


def report(name: str | None, error: SieveCompileError) -> str:
    """Errors as ``name: line:column: message.`` then ``name: error: validation failed.``"""
    prefix = f"{name}: " if name else ""
    lines = []
    for diag in error.diagnostics:
        message = diag.message.rstrip(".")
        lines.append(f"{prefix}{diag.line}:{diag.column}: {message}.")
    lines.append(f"{prefix}error: {'parse' if isinstance(error, SieveSyntaxError) else 'validation'} failed.")
    return "\r\n".join(lines) + "\r\n"
