"""The manual (README.md and docs/) against the repository and the real code.

Every relative link resolves (the file, and for #anchors the heading, by GitHub's anchor
rules); the README opens with its two commands; every `ceguard ...` command shown parses with
the CLI's own parser, and every option of the CLI is in the command reference; the output of
`ceguard check` shown is what it prints; the config keys, rulebook and instruments shown are
accepted by the loaders that read them, and the configuration tables hold exactly the keys
ceguard reads; every key of the shipped cfg, every metric and every log event is explained;
each alert of deploy/prometheus/alerts.yml links to its runbook section.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine import cli
from engine.config import _CREDENTIAL_KEYS, _SECTIONS, _check_keys
from engine.core.instruments import load_instruments
from engine.errors import ConfigError
from engine.review.settings import _KEYS as REVIEW_KEYS
from engine.rules.rulebook import parse_rulebook

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CEGUARD = Path(sys.executable).parent / "ceguard"
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
SHELL_LANGUAGES = {"sh", "shell", "bash", "console"}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def blocks(path: Path) -> list[tuple[str, list[str], int]]:
    """(language, lines, line number of the opening fence) of each fenced block."""
    found, language, lines, start = [], None, [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            if language is None:
                language, lines, start = line[3:].strip() or "text", [], number
            else:
                found.append((language, lines, start))
                language = None
        elif language is not None:
            lines.append(line)
    assert language is None, f"{_name(path)}: the block opened at line {start} is not closed"
    return found


def outside_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced blocks."""
    result, inside = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            result.append((number, line))
    return result


def prose(path: Path) -> list[tuple[int, str]]:
    """outside_blocks with inline code removed."""
    return [(number, re.sub(r"`[^`]*`", "", line)) for number, line in outside_blocks(path)]


def github_anchor(heading: str) -> str:
    """GitHub's id of a heading: its text as rendered, lower-cased, without punctuation other
    than hyphens and underscores, spaces made hyphens (runs of them are not collapsed)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = text.replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, counts = set(), {}
    for _, line in outside_blocks(path):
        if not (heading := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            continue
        anchor = github_anchor(heading[1])
        count = counts.get(anchor, 0)
        counts[anchor] = count + 1
        found.add(f"{anchor}-{count}" if count else anchor)  # GitHub numbers repeats
    return found


def links(path: Path) -> list[tuple[int, str]]:
    return [(number, match[1]) for number, line in prose(path) for match in LINK.finditer(line)]


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_every_relative_link_resolves(path):
    checked = 0
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        where = f"{_name(path)}:{number}: link {target!r}"
        assert linked.exists(), f"{where}: {linked} does not exist"
        assert linked.is_relative_to(ROOT), f"{where}: points outside the repository"
        if anchor:
            assert linked.suffix == ".md", f"{where}: an anchor into a file that is not Markdown"
            assert anchor in anchors(linked), \
                f"{where}: {_name(linked)} has no heading with the anchor #{anchor}"
        checked += 1
    assert checked > 0, f"{_name(path)} links to nothing in the repository"


def test_anchor_rules_are_githubs():
    assert github_anchor("Live path (`benchmarks/live.py`)") == "live-path-benchmarkslivepy"
    assert github_anchor("An analyst's walk through a case") == "an-analysts-walk-through-a-case"
    assert github_anchor("[fix.overrides]") == "fixoverrides"
    assert github_anchor("From a terminal: `ceguard cases`") == "from-a-terminal-ceguard-cases"
    assert github_anchor("Notices (review mode) - FIX") == "notices-review-mode---fix"
    assert github_anchor("ceguard_session_up") == "ceguard_session_up"


def test_the_readme_opens_with_its_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    before, fence, _ = text.partition("```")
    assert fence, "README.md has no fenced block"
    assert before.startswith("# ceguard\n")
    assert "\n#" not in before, "a section comes before the two commands"
    assert len(before.strip().splitlines()) <= 3, "more than a title and a line before them"
    language, lines, _ = blocks(ROOT / "README.md")[0]
    commands = [line.partition("#")[0].strip() for line in lines if line.strip()]
    assert language == "sh"
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def shown_commands() -> list[tuple[str, list[str]]]:
    """(where, argv after `ceguard`) of each ceguard command in a shell block of the docs."""
    commands = []
    for path in DOCS:
        for language, lines, start in blocks(path):
            if language not in SHELL_LANGUAGES:
                continue
            text = "\n".join(lines).replace("\\\n", " ")
            for offset, line in enumerate(text.splitlines()):
                if language == "console":
                    if not line.startswith("$ "):
                        continue  # output
                    line = line[2:]
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                segment: list[str] = []
                for token in [*lexer, ";"]:
                    if token in {";", "|", "&&", "||", "&", "<", ">", "(", ")"}:
                        if segment[:1] == ["ceguard"]:
                            commands.append((f"{_name(path)}:{start + 1 + offset}", segment[1:]))
                        segment = []
                    else:
                        segment.append(token)
    return commands


def test_every_command_shown_parses_with_the_real_cli(capsys):
    parser = cli._parser()
    pending = [parser]
    while pending:  # the docs spell options out: an abbreviation would hide a renamed one
        strict = pending.pop()
        strict.allow_abbrev = False
        pending += _subcommands(strict).values()
    shown = shown_commands()
    for where, argv in shown:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: `ceguard {' '.join(argv)}` does not parse: "
                        f"{capsys.readouterr().err.strip()}")
    used = {argv[0] for _, argv in shown}
    assert used == set(_subcommands(parser)), "a command of the CLI has no example in the docs"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_option_of_the_cli_is_in_the_command_reference():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    missing = []
    pending = [("ceguard", cli._parser())]
    while pending:
        name, parser = pending.pop()
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help") and not re.search(
                        rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
                    missing.append(f"{name} {option}")
        for sub, subparser in _subcommands(parser).items():
            if not re.search(rf"`{re.escape(sub)}\b", text):
                missing.append(f"{name} {sub}")
            pending.append((f"{name} {sub}", subparser))
    assert not missing, f"docs/commands.md does not mention: {', '.join(sorted(missing))}"


def test_console_examples_of_check_show_its_real_output():
    shown = 0
    for path in DOCS:
        for language, lines, start in blocks(path):
            if language != "console" or not lines[0].startswith("$ ceguard check "):
                continue
            argv = shlex.split(lines[0][2:])[1:]
            result = subprocess.run([CEGUARD, *argv], capture_output=True, text=True)
            assert result.returncode == (1 if "ERRONEOUS" in lines[1] else 0), result.stderr
            assert result.stdout.splitlines() == lines[1:], \
                f"{_name(path)}:{start}: the output shown is not what `ceguard check` prints"
            shown += 1
    assert shown >= 2  # README's tour and docs/commands.md


def _toml_blocks() -> list[tuple[str, dict]]:
    found = []
    for path in DOCS:
        for language, lines, start in blocks(path):
            if language == "toml":
                found.append((f"{_name(path)}:{start}", tomllib.loads("\n".join(lines))))
    return found


def test_every_toml_key_shown_is_one_the_engine_config_accepts():
    shown = _toml_blocks()
    assert any("configuration.md" in where for where, _ in shown)
    for where, data in shown:
        try:
            _check_keys(where, data)
        except ConfigError as exc:
            pytest.fail(str(exc))
        review = data.get("review", {})
        unknown = {key for key in review if key not in REVIEW_KEYS}
        assert not unknown, f"{where}: [review] keys the engine refuses: {unknown}"
        for comp_id, entry in data.get("auth", {}).get("credentials", {}).items():
            assert set(entry) <= _CREDENTIAL_KEYS, f"{where}: auth.credentials.{comp_id}"


def test_the_configuration_tables_list_exactly_the_keys_ceguard_reads():
    """Each `### [section]` of docs/configuration.md: the keys in its table's first column."""
    accepted = {f"[{section}]": keys for section, keys in _SECTIONS.items() if keys is not None}
    accepted["[review]"] = REVIEW_KEYS
    accepted["[auth.credentials]"] = _CREDENTIAL_KEYS
    documented: dict[str, set[str]] = {}
    section = None
    for _, line in outside_blocks(ROOT / "docs" / "configuration.md"):
        if line.startswith("#"):
            section = line[4:].strip() if line.startswith("### ") else None
        elif section in accepted and (key := re.match(r"^\| `([a-z_]+)` \|", line)):
            documented.setdefault(section, set()).add(key[1])
    assert documented == {section: set(keys) for section, keys in accepted.items()}


def test_the_example_rulebook_and_instruments_load(tmp_path):
    path = ROOT / "docs" / "configuration.md"
    rulebooks = [lines for language, lines, _ in blocks(path) if language == "json"]
    assert rulebooks
    for lines in rulebooks:
        rulebook = parse_rulebook(json.loads("\n".join(lines)), "docs/configuration.md")
        assert rulebook.rule_codes()[-2:] == ["MSE-5", "MSE-20"]
    csv = next(lines for _, lines, _ in blocks(path) if lines and lines[0].startswith("symbol,"))
    (tmp_path / "instruments.csv").write_text("\n".join(csv) + "\n")
    instruments = load_instruments(tmp_path / "instruments.csv")
    assert [(i.symbol, i.leverage) for i in instruments] == [("SSO", 200), ("SQQQ", -300),
                                                             ("AAPL", 100)]


def test_every_alert_links_to_its_runbook_section():
    rules = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text(encoding="utf-8")
    alerts = re.findall(r"^\s*- alert: (\w+)$", rules, re.M)
    urls = re.findall(r'^\s*runbook_url: "([^"]+)"$', rules, re.M)
    assert alerts and len(urls) == len(alerts)
    operations = ROOT / "docs" / "operations.md"
    for alert, url in zip(alerts, urls):
        file_part, _, anchor = url.partition("#")
        assert (ROOT / file_part).resolve() == operations, url
        assert anchor == github_anchor(alert) and anchor in anchors(operations), \
            f"{alert}: docs/operations.md has no section #{anchor}"
        assert f"(#{anchor})" in operations.read_text(encoding="utf-8"), \
            f"{alert} is not in the alerts table of docs/operations.md"


def test_the_console_screenshot_is_shown_where_the_console_is_described():
    image = ROOT / "docs" / "console-case.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shown = [path for path in DOCS if any(t.endswith("console-case.png") for _, t in links(path))]
    assert shown == [ROOT / "docs" / "review.md"]


def test_every_key_of_the_shipped_cfg_is_in_the_reference():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = {line.partition("=")[0].strip()
            for line in (ROOT / "fix_configs" / "ceguard.cfg").read_text().splitlines()
            if "=" in line and not line.lstrip().startswith("#")}
    assert "SocketAcceptPort" in keys
    missing = sorted(key for key in keys if f"`{key}`" not in text)
    assert not missing, f"docs/configuration.md does not describe {missing}"


def test_every_metric_serve_exports_is_in_the_runbook():
    from engine.obs.metrics import Metrics
    from engine.review.metrics import ReviewMetrics

    metrics = Metrics()
    ReviewMetrics(metrics.registry)
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    names = [family.name + ("_total" if family.type == "counter" else "")
             for family in metrics.registry.collect()]
    assert "ceguard_fills_received_total" in names and len(names) > 30
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/operations.md does not list the metrics {missing}"


def test_every_log_event_of_the_engine_is_in_the_runbook():
    """Each event name the engine's code logs (log.info("name", ...) and the like)."""
    call = re.compile(r'\blog(?:\.(?:info|warning|error|exception))?\(\s*"([a-z_]+)"')
    events = {name for source in (ROOT / "engine").rglob("*.py")
              for name in call.findall(source.read_text(encoding="utf-8"))}
    assert {"serving", "flag", "bust", "logon_refused", "case_notice"} <= events
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = sorted(name for name in events if f"`{name}`" not in text)
    assert not missing, f"docs/operations.md does not explain the log events {missing}"
