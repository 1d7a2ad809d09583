"""The README's CI workflows are valid YAML, of the shape GitHub Actions and GitLab CI read, and every
autotune command in them uses flags the CLI has."""
import re
import shlex

import pytest
import yaml

from conftest import ROOT, cli


def blocks() -> list[str]:
    section = (ROOT / "README.md").read_text().split("### A benchmarking step in CI", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def workflows() -> list[dict]:
    return [yaml.safe_load(block) for block in blocks()]


def test_github_actions_and_gitlab_ci():
    github, gitlab = workflows()
    steps = github["jobs"]["benchmark"]["steps"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact") and "report.html" in s["with"]["path"]
               for s in steps)
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "GITHUB_STEP_SUMMARY" in runs and "autotune compare base/study study" in runs
    job = gitlab["benchmark"]
    assert job["artifacts"]["reports"]["junit"] == "junit.xml" and "report.html" in job["artifacts"]["paths"]
    assert "--format junit --output junit.xml" in "\n".join(job["after_script"])


@pytest.mark.parametrize("line", sorted({line.strip() for block in blocks()
                                         for line in re.findall(r"autotune (?:run|report|compare)[^\n>]*", block)}))
def test_every_autotune_command_uses_real_flags(line):
    words = shlex.split(line)
    flags = [w for w in words if w.startswith("--")]
    help_text = cli(words[1], "--help").stdout
    assert flags and all(flag in help_text for flag in flags), (line, flags)
