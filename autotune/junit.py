"""`report --format junit`: a study as a JUnit XML test report, which CI systems show natively (GitLab's
test reports, Jenkins, the test-report actions of GitHub): one testcase per trial. Failed and infeasible
trials are failures carrying their reason; pruned trials are skipped, with the step they reached, and so
are trials still running or interrupted; completed trials pass, their metrics in system-out.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .report_data import best_id, baseline_id, format_params, format_value, front_ids, goals, number, trials

FAILURES = ("failed", "infeasible")
MAX_NAME = 200
# Characters XML 1.0 cannot hold at all (control characters from a trial's stderr, say).
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: dict) -> str:
    study = report.get("study") or {}
    suite_name = f"autotune.{study.get('name', 'study')}"
    goal_list = goals(report)
    trial_list = trials(report)
    failures = sum(t.get("status") in FAILURES for t in trial_list)
    skipped = sum(t.get("status") not in (*FAILURES, "completed") for t in trial_list)
    elapsed = number((report.get("stats") or {}).get("elapsed_s"))
    counts = {"tests": str(len(trial_list)), "failures": str(failures), "errors": "0", "skipped": str(skipped),
              "time": f"{elapsed or 0.0:.3f}"}
    root = ET.Element("testsuites", name="autotune", **counts)
    suite = ET.SubElement(root, "testsuite", name=_text(suite_name), **counts)
    properties = ET.SubElement(suite, "properties")
    facts = {"objective": " and ".join(f"{g.direction} {g.label}" for g in goal_list),
             "strategy": study.get("strategy"), "status": study.get("status"), "dir": study.get("dir"),
             "best_trial": best_id(report), "verdict": report.get("verdict")}
    for key, value in facts.items():
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=_text(value))
    for trial in trial_list:
        case = ET.SubElement(suite, "testcase", classname=_text(suite_name), name=_name(trial, report),
                             time=f"{number(trial.get('duration_s')) or 0.0:.3f}")
        status = str(trial.get("status"))
        reason = str(trial.get("error") or status)
        if status in FAILURES:
            failure = ET.SubElement(case, "failure", type=status, message=_text(f"{status}: {reason}"))
            failure.text = _text(reason)
        elif status != "completed":
            step = f" at step {trial['step']}" if trial.get("step") is not None else ""
            ET.SubElement(case, "skipped", message=_text(f"{status}{step}" + (f": {trial['error']}"
                                                                              if trial.get("error") else "")))
        metrics = trial.get("metrics") or {}
        lines = [f"{g.label} = {format_value(g.value(trial))}" for g in goal_list if g.label not in metrics]
        lines += [f"score = {format_value(trial.get('score'))}"]
        lines += [f"{k} = {format_value(v)}" for k, v in metrics.items()]
        ET.SubElement(case, "system-out").text = _text("\n".join(lines))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _name(trial: dict, report: dict) -> str:
    tid = trial.get("id")
    role = " (best)" if tid == best_id(report) else " (Pareto front)" if tid in front_ids(report) else ""
    role += " (baseline)" if tid == baseline_id(report) else ""
    return _text(f"trial {tid}{role}: {format_params(trial.get('params'))}")[:MAX_NAME]


def _text(value) -> str:
    return NOT_XML.sub("\ufffd", str(value))
