# SPDX-License-Identifier: GPL-3.0-or-later
"""Random input for the Sieve parser and compiler (RFC 5228 §8), seeded so that a failure replays.

Four generators, no hypothesis: token soup from the language's own vocabulary, mutations of real scripts,
random characters, and random well-formed trees printed and parsed back. The properties: nothing but a
``SieveSyntaxError``/``SieveCompileError`` ever escapes, every error is located inside the text, and a
printed tree parses back to itself. ``GROUPWARE_FUZZ_ROUNDS`` raises the number of cases (default 2,000 each).

Then evaluation under bounds (issue 13): random scripts built from costly pieces (many-star ``:matches``,
``:regex`` with repetitions, doubling variables, match variables repeated) on random messages (long and
repeated header fields, deep MIME nesting) must each finish within the evaluation budget, and so must mutated
real scripts that still compile.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from pathlib import Path

import pytest

from groupware.sieve import Environment, SieveCompileError, SieveSyntaxError, compile_script, evaluate, parse
from groupware.sieve.host import Budget
from groupware.sieve.parse import Argument, Command, Number, Strings, Tag, tokens
from groupware.sieve.parse import Test as SieveTest

ROUNDS = int(os.environ.get("GROUPWARE_FUZZ_ROUNDS", "2000"))
DATA = Path(__file__).resolve().parents[1] / "data" / "sieve"
VOCABULARY = [
    "if",
    "elsif",
    "else",
    "require",
    "stop",
    "keep",
    "discard",
    "fileinto",
    "redirect",
    "vacation",
    "set",
    "header",
    "address",
    "envelope",
    "allof",
    "anyof",
    "not",
    "true",
    "false",
    "exists",
    "size",
    "body",
    "string",
    "date",
    "currentdate",
    "hasflag",
    "addflag",
    ":is",
    ":contains",
    ":matches",
    ":regex",
    ":value",
    ":count",
    ":comparator",
    ":over",
    ":under",
    ":days",
    ":copy",
    ":flags",
    ":index",
    '"a"',
    '""',
    '"x@y.z"',
    '"${1}"',
    '"#h"',
    '"/*c*/"',
    '"é"',
    '"\\""',
    '"\\\\"',
    '"i;ascii-numeric"',
    '"fileinto"',
    '"variables"',
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ";",
    ",",
    ";",
    ";",
    "0",
    "7",
    "2K",
    "9G",
    "99999999999999999999",
    "text:",
    "# comment\n",
    "/* bracket ; { */",
    "/*",
    "\n",
    "\r\n",
    "\t",
    "text:\r\nline\r\n..dot\r\n.\r\n",
    "text: # c\n.\n",
    '"unterminated',
    ":",
    "@",
    "\x00",
    "\u2028",
]
SCRIPTS = [p.read_text(encoding="utf-8") for p in sorted(DATA.rglob("*.sieve"))] + [
    'require ["fileinto", "variables"];\n'
    'if header :matches "subject" "*x*" { set "a" "${1}"; fileinto "${a}"; }\n'
    'elsif anyof (size :over 2K, not exists "to") { discard; stop; } else { keep; }\n',
    'require "vacation";\nvacation :days 3 :subject "Absent" text:\nJe suis absent.\n..\n.\n;\n',
]


def _check(text: str) -> None:
    """Parse and compile; any failure must be a located diagnostic inside the text."""
    lines = text.count("\n") + 1
    for run in (parse, compile_script):
        try:
            run(text)
        except (SieveSyntaxError, SieveCompileError) as exc:
            for d in exc.diagnostics:
                assert 1 <= d.line <= lines and d.column >= 1, (text, str(exc))
                assert d.column <= len(text.split("\n")[d.line - 1]) + 1, (text, str(exc))


@pytest.mark.parametrize("seed", range(4))
def test_token_soup(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(ROUNDS // 4):
        _check(" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 30))))


@pytest.mark.parametrize("seed", range(4))
def test_mutated_scripts(seed: int) -> None:
    rng = random.Random(100 + seed)
    alphabet = '{}()[];,":#/*\\ \n\r.tx0K'
    for _ in range(ROUNDS // 4):
        text = list(rng.choice(SCRIPTS))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text))
            op = rng.randrange(3)
            if op == 0:
                del text[i]
            elif op == 1:
                text.insert(i, rng.choice(alphabet))
            else:
                text[i] = rng.choice(alphabet)
        _check("".join(text))


def test_random_characters() -> None:
    rng = random.Random(7)
    for _ in range(ROUNDS // 4):
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 60)))
        text = raw.decode("utf-8", "surrogateescape")
        _check(text)
        with contextlib.suppress(SieveSyntaxError):
            tokens(text)


# -- round trip: a random tree, printed, parses back to itself ----------------------------------------------
def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _print_arg(arg: Argument) -> str:
    if isinstance(arg, Tag):
        return ":" + arg.name
    if isinstance(arg, Number):
        return str(arg.value)
    if arg.is_list:
        return "[" + ", ".join(_quote(v) for v in arg.values) + "]"
    value = arg.values[0]
    if "\n" in value and value.endswith("\n") and "\r" not in value:
        return (
            "text:\n"
            + "".join("." + line if line.startswith(".") else line for line in value.splitlines(True))
            + ".\n"
        )
    return _quote(value)


def _print_tests(tests: list[SieveTest], as_list: bool) -> str:
    if as_list:
        return " (" + ", ".join(_print_test(t) for t in tests) + ")"
    return "".join(" " + _print_test(t) for t in tests)


def _print_test(test: SieveTest) -> str:
    args = "".join(" " + _print_arg(a) for a in test.args)
    return test.name + args + _print_tests(test.tests, test.has_test_list)


def _print(commands: list[Command], indent: str = "") -> str:
    out = []
    for c in commands:
        head = (
            indent
            + c.name
            + "".join(" " + _print_arg(a) for a in c.args)
            + _print_tests(c.tests, c.has_test_list)
        )
        if c.block is None:
            out.append(head + ";\n")
        else:
            out.append(head + " {\n" + _print(c.block, indent + "  ") + indent + "}\n")
    return "".join(out)


def _shape(node: object) -> object:
    """A tree without positions, for comparing a parse with the tree it was printed from."""
    if isinstance(node, list):
        return [_shape(n) for n in node]
    if isinstance(node, (Command, SieveTest)):
        block = _shape(node.block) if isinstance(node, Command) and node.block is not None else None
        return (node.name, _shape(node.args), _shape(node.tests), node.has_test_list, block)
    if isinstance(node, Strings):
        return ("strings", tuple(node.values), node.is_list)
    if isinstance(node, Tag):
        return ("tag", node.name)
    assert isinstance(node, Number)
    return ("number", node.value)


def _random_string(rng: random.Random) -> str:
    return "".join(
        rng.choice(["a", "é", '"', "\\", "#", "/*", " ", "\n", ".", "..", ";", "{", "${1}"])
        for _ in range(rng.randint(0, 6))
    )


def _random_args(rng: random.Random) -> list[Argument]:
    args: list[Argument] = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.randrange(4)
        if kind == 0:
            args.append(Tag(rng.choice(["is", "contains", "over", "copy", "x_1"]), 0, 0))
        elif kind == 1:
            args.append(Number(rng.randrange(1 << 40), 0, 0))
        else:
            values = [_random_string(rng) for _ in range(rng.randint(1, 3) if kind == 2 else 1)]
            args.append(Strings(values, kind == 2, 0, 0))
    return args


def _random_test(rng: random.Random, depth: int) -> SieveTest:
    test = SieveTest(rng.choice(["true", "header", "anyof", "not", "x_y"]), _random_args(rng), [], 0, 0)
    if depth < 4 and rng.random() < 0.4:
        test.has_test_list = rng.random() < 0.6
        test.tests = [
            _random_test(rng, depth + 1) for _ in range(rng.randint(1, 3) if test.has_test_list else 1)
        ]
    return test


def _random_commands(rng: random.Random, depth: int) -> list[Command]:
    out = []
    for _ in range(rng.randint(0 if depth else 1, 3)):
        c = Command(rng.choice(["if", "keep", "fileinto", "stop", "cmd_2"]), _random_args(rng), [], 0, 0)
        if rng.random() < 0.5:
            c.has_test_list = rng.random() < 0.5
            c.tests = [_random_test(rng, 0) for _ in range(rng.randint(1, 3) if c.has_test_list else 1)]
        if depth < 4 and rng.random() < 0.4:
            c.block = _random_commands(rng, depth + 1)
        out.append(c)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_printed_trees_parse_back(seed: int) -> None:
    rng = random.Random(200 + seed)
    for _ in range(ROUNDS // 8):
        tree = _random_commands(rng, 0)
        text = _print(tree)
        assert _shape(parse(text)) == _shape(tree), text


#: The ``slow`` run: this many inputs from each generator (deterministic seeds, so that CI replays them).
SLOW_ROUNDS = 10_000


def _token_soup(rng: random.Random) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 30)))


def _mutation(rng: random.Random) -> str:
    text = list(rng.choice(SCRIPTS))
    for _ in range(rng.randint(1, 4)):
        text.insert(rng.randrange(len(text) + 1), rng.choice('{}()[];,":#/*\\ \n\r.tx0K'))
    return "".join(text)


def _characters(rng: random.Random) -> str:
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 60))).decode("utf-8", "surrogateescape")


@pytest.mark.slow
@pytest.mark.parametrize("generator", [_token_soup, _mutation, _characters], ids=lambda g: g.__name__)
def test_ten_thousand_scripts_per_generator(generator: object) -> None:
    """Issue 13: at least 10,000 generated scripts for the parser and compiler, none escaping their errors,
    each parsed within a second."""
    rng = random.Random(500)
    assert callable(generator)
    for _ in range(SLOW_ROUNDS):
        text = generator(rng)
        started = time.perf_counter()
        _check(text)
        assert time.perf_counter() - started < 1.0, text


# -- evaluation under bounds: random scripts on random messages, each within its time ------------------------
EVAL_ROUNDS = max(ROUNDS // 10, 50)
#: Seconds one evaluation may take here: the budget's CPU time plus room for a slow machine.
EVAL_SECONDS = 2.0
_KEYS = ['"*a*b*c*d*e*f*g*h*z"', '"?*?*?*?*?*x"', '"*"', '"${1}${1}${1}"', '"a"', '""', '"${v}${v}"']
_REGEXES = ['".*a.*b.*c.*x"', '"^(.*)@(.*)$"', '"[0-9]+%"', '"(foo|bar)+"', '"a{1,50}b"', '"(dev)"']
_FIELDS = ['"subject"', '"from"', '["to", "cc"]', '"x-long"', '"received"']


def _costly_test(rng: random.Random, depth: int = 0) -> str:
    kind = rng.randrange(8 if depth < 3 else 6)
    match = rng.choice([":is", ":contains", ":matches", ":matches", ":regex"])
    key = rng.choice(_REGEXES if match == ":regex" else _KEYS)
    if kind == 0:
        return f"header {match} {rng.choice(_FIELDS)} {key}"
    if kind == 1:
        field = rng.choice(['"from"', '"to"'])
        return f"address {match} :localpart {field} {key}"
    if kind == 2:
        return f"body :text {match} {key}"
    if kind == 3:
        return f'string {match} "${{v}}${{1}}" {key}'
    if kind == 4:
        return f"size :over {rng.choice(['1', '1K', '1M'])}"
    if kind == 5:
        return rng.choice(["true", "false", 'exists "subject"'])
    tests = ", ".join(_costly_test(rng, depth + 1) for _ in range(rng.randint(1, 3)))
    return f"{rng.choice(['anyof', 'allof'])} ({tests})"


def _costly_command(rng: random.Random, depth: int) -> str:
    kind = rng.randrange(6 if depth < 3 else 4)
    if kind == 0:
        return 'set "v" "${v}${v}${1}";'
    if kind == 1:
        return rng.choice(['fileinto "F${1}";', 'addflag "\\\\Seen";', "keep;", 'addflag "w" "${v}";'])
    if kind == 2:
        return rng.choice(['set :length "n" "${v}";', 'set :quotewildcard "v" "${v}*?";', "stop;"])
    if kind == 3:
        return 'if string :matches "${v}" "*" { set "v" "${1}${1}"; }'
    body = " ".join(_costly_command(rng, depth + 1) for _ in range(rng.randint(1, 4)))
    return f"if {_costly_test(rng)} {{ {body} }}" + (" else { keep; }" if kind == 5 else "")


def _costly_script(rng: random.Random) -> str:
    head = 'require ["fileinto", "variables", "regex", "body", "imap4flags"]; set "v" "ab";'
    return head + " ".join(_costly_command(rng, 0) for _ in range(rng.randint(1, 12)))


def _costly_message(rng: random.Random) -> bytes:
    n = rng.choice([0, 10, 100, 5_000, 60_000])
    subject = "".join(rng.choice("abcdefghz*?x@ ") for _ in range(n))
    fields = [f"Subject: {subject}", f"From: {'a' * rng.randrange(300)}@example.org", "To: b@example.net"]
    fields += [f"X-Long: {'y' * rng.randrange(20_000)}"] * rng.randint(0, 3)
    fields += ["Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000"] * rng.randint(0, 30)
    depth = rng.choice([0, 1, 5, 300])
    if not depth:
        return ("\r\n".join(fields) + "\r\n\r\n" + "body abc " * rng.randrange(2000)).encode()
    fields.append("Content-Type: multipart/mixed; boundary=b0")
    opening = "".join(
        f"--b{i - 1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n" for i in range(1, depth)
    )
    inner = f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\nhello {subject[:50]}\r\n"
    return ("\r\n".join(fields) + "\r\n\r\n" + opening + inner).encode()


@pytest.mark.parametrize("seed", range(4))
def test_random_scripts_on_random_messages_finish_in_bounded_time(seed: int) -> None:
    """Issue 13: nothing a script does on a message takes more than its budget, and nothing escapes."""
    rng = random.Random(300 + seed)
    budget = Budget(steps=200_000, cpu_seconds=0.5)
    for _ in range(EVAL_ROUNDS // 4):
        script, message = _costly_script(rng), _costly_message(rng)
        program = compile_script(script)
        start = time.perf_counter()
        actions = evaluate(program, message, Environment(budget=budget))
        elapsed = time.perf_counter() - start
        assert elapsed < EVAL_SECONDS, (elapsed, script, message[:200])
        assert actions, script


@pytest.mark.parametrize("seed", range(2))
def test_mutated_scripts_that_compile_evaluate_in_bounded_time(seed: int) -> None:
    rng = random.Random(400 + seed)
    message = b"Subject: " + b"ab*c?" * 2000 + b"\r\nFrom: a@example.org\r\n\r\nbody\r\n"
    for _ in range(EVAL_ROUNDS // 2):
        text = list(rng.choice(SCRIPTS))
        for _ in range(rng.randint(0, 3)):
            text.insert(rng.randrange(len(text) + 1), rng.choice('*?"${}1'))
        try:
            program = compile_script("".join(text))
        except (SieveSyntaxError, SieveCompileError):
            continue
        start = time.perf_counter()
        evaluate(program, message, Environment(budget=Budget(cpu_seconds=0.5)))
        assert time.perf_counter() - start < EVAL_SECONDS, "".join(text)
