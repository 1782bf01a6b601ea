"""``python -m autograder grade ...`` / ``python -m autograder collect ...`` (see autograder.grading.cli)."""
import sys

from autograder.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
