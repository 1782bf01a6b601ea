"""nbgrader configuration for the course (read by every nbgrader command run in this folder)."""
import os

c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "training-deep-networks"
# Instructor notebooks with solutions and hidden tests live in solutions/; the generated
# student versions are committed under exercises/.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Only notebooks travel between steps: nothing else in an assignment folder is released.
c.CourseDirectory.include = ["*.ipynb"]

# Per-cell time limit when nbgrader executes a notebook (validate, autograde). `import torch`
# takes about 2 s on an idle 2-core machine and several times that under load.
c.ExecutePreprocessor.timeout = 120
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
