"""The `shinshu` command line as a user runs it."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

from support import run_shinshu

from core.settings import Settings
from shinshu.cli import SETTING_FLAGS, build_parser, setting_overrides


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `shinshu` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "shinshu.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_score_csv_adds_a_causal_score_to_every_row(tmp_path: Path) -> None:
    """`shinshu models score-csv IN OUT` keeps the rows and adds anomaly_score in [0, 1]."""
    source = tmp_path / "in.csv"
    rows = [("2024-01-01 00:00:00", "1.0")]
    rows += [
        (
            f"2024-01-{1 + i // 288:02d} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00",
            f"{10 + 3 * math.sin(i / 20):.4f}",
        )
        for i in range(1, 2000)
    ]
    rows[1500] = (rows[1500][0], "80.0")
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        writer.writerows(rows)
    result = run("models", "score-csv", str(source), str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    with (tmp_path / "out.csv").open() as handle:
        scored = list(csv.DictReader(handle))
    assert [(r["timestamp"], r["value"]) for r in scored] == rows
    scores = [float(r["anomaly_score"]) for r in scored]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[1500] == max(scores)


def test_bad_input_gives_a_clear_error_and_no_trace(tmp_path: Path) -> None:
    """A CSV without a value column names the problem; exit status 1, no traceback."""
    source = tmp_path / "in.csv"
    source.write_text("timestamp,reading\n2024-01-01 00:00:00,1\n")
    result = run("models", "score-csv", str(source), str(tmp_path / "out.csv"))
    assert result.returncode == 1
    assert "value" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_reported_with_exit_status_2() -> None:
    """A malformed SHINSHU_ variable stops the command with the setting named."""
    result = subprocess.run(
        [sys.executable, "-m", "shinshu.cli", "simulate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"SHINSHU_INGEST_BATCH_POINTS": "lots", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "ingest_batch_points" in result.stderr


def test_harvest_commands_are_reachable_and_report_bad_files(tmp_path: Path) -> None:
    """`shinshu models harvest fit` runs the model's command and names a missing file."""
    result = run(
        "models",
        "harvest",
        "fit",
        "--weather",
        str(tmp_path / "missing.csv"),
        "--seasons",
        str(tmp_path / "s.csv"),
        "--out",
        str(tmp_path / "model"),
    )
    assert result.returncode != 0
    assert "missing.csv" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


_shinshu = run_shinshu


def test_keys_create_takes_repeated_sites(tmp_path: Path) -> None:
    """`shinshu keys create --role researcher --site A --site B` stores both sites."""
    created = _shinshu(
        tmp_path,
        "keys",
        *("create", "--tenant", "farmco", "--role", "researcher"),
        *("--site", "kawakami-01", "--site", "suzaka-01"),
    )
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.strip().splitlines()[-1].split("_")[1]
    listed = _shinshu(tmp_path, "keys", "list", "--tenant", "farmco")
    assert listed.returncode == 0, listed.stderr
    row = next(line.split("\t") for line in listed.stdout.splitlines() if line.startswith(key_id))
    assert row[1:5] == ["farmco", "researcher", "active", "kawakami-01,suzaka-01"]
    assert _shinshu(tmp_path, "keys", "list", "--tenant", "other").stdout.count("\n") == 1


def _commands() -> dict[str, list[argparse.ArgumentParser]]:
    """Every subcommand's parser with the parsers of its own subcommands."""
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))

    def walk(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return [parser, *(p for action in nested for c in action.choices.values() for p in walk(c))]

    return {name: walk(parser) for name, parser in top.choices.items()}


def test_no_flag_lands_in_a_setting_unless_declared_as_one() -> None:
    """A flag whose dest is a setting's name must be declared a setting flag of its command."""
    settings = {f.name for f in dataclasses.fields(Settings)}
    commands = _commands()
    assert set(SETTING_FLAGS) <= set(commands)
    for name, parsers in commands.items():
        dests = {a.dest for parser in parsers for a in parser._actions}
        shadowing = (dests & settings) - set(SETTING_FLAGS.get(name, ()))
        assert not shadowing, f"`shinshu {name}`: give {sorted(shadowing)} a dest of their own"
        assert set(SETTING_FLAGS.get(name, ())) <= dests & settings, name


def test_setting_flags_override_settings_only_for_their_own_command() -> None:
    """`simulate --site` and `train --tenant` are settings; `keys --tenant/--site` are not."""
    parser = build_parser()
    simulate = setting_overrides(parser.parse_args(["simulate", "--tenant", "t", "--site", "s"]))
    assert (simulate["tenant"], simulate["site"]) == ("t", "s")
    train = setting_overrides(parser.parse_args(["train", "--seasons", "s.csv", "--tenant", "t"]))
    assert train["tenant"] == "t"
    keys = parser.parse_args(
        ["keys", "create", "--tenant", "t", "--role", "researcher", "--site", "a", "--site", "b"]
    )
    assert keys.key_sites == ["a", "b"] and keys.key_tenant == "t"
    assert set(setting_overrides(keys)) == {"log_level"}
