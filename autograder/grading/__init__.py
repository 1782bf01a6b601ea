"""The instructor's grading tool, built on nbgrader: parallel, sandboxed, with an honest re-check.

``python -m autograder grade`` runs :class:`.pipeline.GradingRun`; ``python -m autograder collect``
files a learning-management system's export under ``submitted/``. See book/instructors.md.
"""
