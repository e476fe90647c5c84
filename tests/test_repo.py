"""The repository keeps its promises: README's test command is what CI runs."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, "README.md lost its marked test command block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert readme_test_command() in ci_lines


def test_ci_runs_the_federation_tests_as_the_readme_says():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- federation-command -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, "README.md lost its marked federation test command block"
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert match.group(1).strip() in ci_lines
    assert "-m federation" in match.group(1) and '-m "not federation"' in readme_test_command()


def test_readme_lists_every_notebook():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{nb.name}" in text, f"README does not link {nb.name}"


def test_no_dataset_files_are_tracked_in_git():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run([git, "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    dataset_names = {"u.data", "u.item", "u.user", "ratings.dat", "users.dat", "movies.dat",
                     "spam.txt", "ham.txt", "Summary.txt"}
    offenders = [f for f in tracked
                 if Path(f).name in dataset_names or f.startswith("data/enron")
                 or (ROOT / f).is_file() and (ROOT / f).stat().st_size > 1 << 20]
    assert offenders == []


def test_package_does_not_import_deep_learning_frameworks():
    for path in (ROOT / "minigrad").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(torch|tensorflow|jax)\b", source, re.M), path


def test_quick_start_prepares_the_data_before_running_the_notebooks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- quick-start -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, "README.md lost its marked quick-start block"
    steps = [s.strip() for s in match.group(1).split("&&")]
    assert steps[0].startswith("python3 -m pip install -r requirements.txt -e .")
    assert steps[1] == "python3 -m minigrad.datasets prepare"
    assert steps[2].startswith("python3 -m jupyter nbconvert --to notebook --execute")
