"""Run the benchmarks and write benchmarks/results.md: ``python benchmarks/run.py [--only accuracy|speed]
[--quick] [--repos-dir DIR] [--cases DIR] [--repo PATH ...]`` (also ``make bench``).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.accuracy import DEFAULT_CASES_DIR, Case, load_cases, run_accuracy  # noqa: E402
from benchmarks.checkouts import PROJECT_ROOT, CheckoutError, checkout, clone_once, repos_dir  # noqa: E402
from benchmarks.features import CORPUS_DIR, load_corpus  # noqa: E402
from benchmarks.genrepo import GenParams, generate  # noqa: E402
from benchmarks.report import accuracy_section, machine, speed_section  # noqa: E402
from benchmarks.speed import SpeedResult, batch_traces, index_section, measure  # noqa: E402
from benchmarks.synthtrace import SpotIndex, render  # noqa: E402

log = logging.getLogger("benchmarks")
RESULTS = PROJECT_ROOT / "benchmarks" / "results.md"
TRACE_SEED = 30
# A long real history with large files, where the issue that asked for the blame index measured it (18,235 commits).
SQLALCHEMY = ("sqlalchemy/sqlalchemy", "f35da7e2b9349a08b8de1f6bd3b07c8bf8616790")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    repos = repos_dir(args.repos_dir)
    cases = load_cases(args.cases)
    lines = [
        "# incidentbot benchmarks",
        "",
        *machine(),
        f"- command: `{' '.join(['benchmarks/run.py', *sys.argv[1:]])}`",
        "",
    ]
    if args.only in (None, "accuracy"):
        from benchmarks.crossval import run as run_crossval
        from benchmarks.learning import run as run_learning
        from benchmarks.model_cost import measure as model_cost
        from benchmarks.model_cost import section as model_cost_section

        lines += run_crossval(repos, args.corpus)
        lines += run_learning(repos, args.corpus)
        lines += model_cost_section(model_cost(repos))
        training = {(c["repo"], c["head"]) for c in load_corpus(args.corpus)}
        # The README's figures belong to its 20 cases: beside other cases in that folder they would mislead.
        published = args.cases.resolve() == DEFAULT_CASES_DIR.resolve() and all(
            (c.repo, c.head) in training for c in cases
        )
        lines += accuracy_section(run_accuracy(cases, repos), training, published)
    if args.only in (None, "speed"):
        speed = _speed(args, cases, repos)
        lines += speed_section(speed) + index_section(speed)
    if args.only in (None, "daemon"):
        from benchmarks.daemon import run as run_daemon
        from benchmarks.daemon import section as daemon_section

        for concurrency in (8, 32):
            lines += daemon_section(run_daemon(10_000, 20, concurrency))
    if args.only in (None, "llm"):
        from benchmarks.llm_usage import llm_section

        lines += llm_section()
    text = "\n".join(lines).rstrip() + "\n"
    RESULTS.write_text(text)
    print(text)
    return 0


def _speed(args: argparse.Namespace, cases: list[Case], repos: Path) -> list[SpeedResult]:
    runs, batch_size, real_batch = (3, 50, 20) if args.quick else (10, 1000, 200)
    generated = generate(GenParams())
    trace = render(SpotIndex(generated).pick(random.Random(TRACE_SEED), 30))
    results = [measure("generated", generated, trace, batch_traces(generated, batch_size, 1), runs)]
    scrapy = _scrapy_checkout(cases, repos)
    if scrapy is not None:
        clone, case = scrapy
        results.append(measure(f"scrapy at {case.id}", clone, case.trace, batch_traces(clone, real_batch, 2), runs))
    sqlalchemy = _pinned_checkout(SQLALCHEMY, repos)
    own_traces = [("sqlalchemy", sqlalchemy)] if sqlalchemy is not None else []
    for name, path in [*own_traces, *((p.name, p.resolve()) for p in args.repo)]:
        own = render(SpotIndex(path).pick(random.Random(TRACE_SEED), 30))
        results.append(measure(name, path, own, batch_traces(path, real_batch, 3), runs))
    return results


def _pinned_checkout(pinned: tuple[str, str], repos: Path) -> Path | None:
    """A real repository at a fixed commit, checked out in an isolated clone; None (skipped) when no copy of it
    can be had."""
    repo, head = pinned
    try:
        clone = clone_once(repo, repos, [head])
    except CheckoutError as exc:
        log.warning("speed on %s skipped: %s", repo, exc)
        return None
    checkout(clone, head)
    return clone


def _scrapy_checkout(cases: list[Case], repos: Path) -> tuple[Path, Case] | None:
    """The scrapy case with the deepest trace, checked out in the isolated clone."""
    scrapy = [case for case in cases if case.repo == "scrapy/scrapy"]
    if not scrapy:
        return None
    case = max(scrapy, key=lambda c: (c.trace.count('File "'), c.id))
    try:
        clone = clone_once(case.repo, repos, [c.head for c in scrapy])
    except CheckoutError as exc:
        log.warning("speed on scrapy skipped: %s", exc)
        return None
    checkout(clone, case.head)
    return clone, case


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="incidentbot accuracy and speed benchmarks")
    parser.add_argument("--only", choices=("accuracy", "speed", "llm", "daemon"), help="run one part only")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller batches (smoke test)")
    parser.add_argument("--repos-dir", type=Path, help="local copies as OWNER+NAME/repo or OWNER/NAME")
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES_DIR, help="the shared cases, run end to end")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="the training corpus, cross-validated")
    parser.add_argument("--repo", type=Path, action="append", default=[], help="also measure speed on this repo")
    return parser


if __name__ == "__main__":
    sys.exit(main())
