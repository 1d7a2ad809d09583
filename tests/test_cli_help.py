import pytest

from conftest import cli

COMMANDS = ["run", "resume", "report", "validate", "best", "compare"]


def test_top_level_help_lists_every_command():
    result = cli("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help(name):
    result = cli(name, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 5


def test_bad_flag_is_exit_2():
    result = cli("run", "task.yaml", "--max-trials", "0")
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr


def test_version_and_short_help():
    from importlib.metadata import version
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"autotune {version('autotune')}"
    assert cli("run", "-h").stdout == cli("run", "--help").stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_help_reads_plainly(name):
    """No `<bool>` after flags and no `{TASK}` braces: what a person types is what the help shows."""
    text = cli(name, "--help").stdout
    assert "<bool>" not in text and "{" not in text
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: ") and f" {name} [OPTIONS]" in usage
