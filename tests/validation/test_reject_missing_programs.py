import os
import sys

from conftest import assert_one_line_error, cli, write_task


def test_a_misspelt_program_is_refused_with_a_suggestion(tmp_path, valid_task):
    valid_task["command"] = ["pythn3", "bench.py"]
    path = write_task(tmp_path, valid_task)
    assert_one_line_error(cli("validate", path), 2, "command[0]", "'pythn3' is not a program on PATH",
                          "did you mean 'python3'?")


def test_the_service_program_is_checked_too(tmp_path, valid_task):
    valid_task["command"] = [sys.executable, "bench.py"]
    valid_task["service"] = {"command": "vlmm serve --port {port}"}
    assert_one_line_error(cli("validate", write_task(tmp_path, valid_task)), 2, "service.command[0]", "'vlmm'")


def test_a_relative_program_is_looked_up_from_the_workdir(tmp_path, valid_task):
    valid_task["command"] = ["./bench.sh"]
    path = write_task(tmp_path, valid_task)
    assert_one_line_error(cli("validate", path), 2, "'./bench.sh' does not exist")
    (tmp_path / "bench.sh").write_text("#!/bin/sh\n")
    assert_one_line_error(cli("validate", path), 2, "not executable")
    os.chmod(tmp_path / "bench.sh", 0o755)
    assert cli("validate", path).exit_code == 0


def test_placeholders_and_python_pass(tmp_path, valid_task):
    valid_task["command"] = ["python", "bench.py"]
    assert cli("validate", write_task(tmp_path, valid_task)).exit_code == 0
    valid_task["parameters"]["tool"] = ["/bin/true", "/bin/false"]
    valid_task["command"] = ["{tool}"]
    assert cli("validate", write_task(tmp_path, valid_task)).exit_code == 0


def test_skip_programs_checks_the_file_only(tmp_path, valid_task):
    valid_task["command"] = ["pythn3", "bench.py"]
    assert cli("validate", write_task(tmp_path, valid_task), "--skip-programs").exit_code == 0
