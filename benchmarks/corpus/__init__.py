"""The training corpus: rebuild ``benchmarks/cases/`` from public sources (see ``benchmarks/corpus/README.md``)."""
