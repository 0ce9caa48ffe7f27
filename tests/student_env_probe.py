"""Run by tests/test_student_env.py with the interpreter of a student's environment (not a test module).

``python student_env_probe.py data``: the answer key is absent, the built-in MNIST loads, the plots import;
``python student_env_probe.py checks``: the test cells' checks import;
``python student_env_probe.py notebook CELLS.json``: runs the code cells listed (a notebook's set-up,
the cells its tests need, its answers and its test cells, in order) in the current folder, which holds
what the assignment releases, and prints one line per test cell: ``PASSED <grade_id>`` or
``FAILED <grade_id>: <error>``.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

if sys.argv[1] == "data":
    if importlib.util.find_spec("nnlab_instructor") is not None:
        sys.exit("nnlab_instructor is importable")
    from nnlab import data, plots

    digits = data.load_mnist()
    print(digits.X.shape, digits.y.shape, data.__file__, plots.__name__)
elif sys.argv[1] == "checks":
    from nnlab import checks

    print(checks.__file__)
else:
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": "__main__"}
    sys.path.insert(0, ".")  # what a notebook's kernel has: its folder, where earlier_steps.py is
    for cell in json.loads(Path(sys.argv[2]).read_text()):
        code = re.sub(r"^\s*[%!].*$", "", cell["source"], flags=re.M)
        try:
            exec(compile(code, f"<cell {cell['grade_id']}>", "exec"), namespace)
        except Exception as error:
            if not cell["test"]:
                raise
            print(f"FAILED {cell['grade_id']}: {type(error).__name__}: {error}")
        else:
            if cell["test"]:
                print(f"PASSED {cell['grade_id']}")
