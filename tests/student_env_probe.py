"""Run by tests/test_student_env.py with the interpreter of a student's environment (not a test module).

``python student_env_probe.py data``: the answer key is absent, the built-in MNIST loads, the plots import;
``python student_env_probe.py checks``: the test cells' checks import.
"""

import importlib.util
import sys

if sys.argv[1] == "data":
    if importlib.util.find_spec("nnlab_instructor") is not None:
        sys.exit("nnlab_instructor is importable")
    from nnlab import data, plots

    digits = data.load_mnist()
    print(digits.X.shape, digits.y.shape, data.__file__, plots.__name__)
else:
    from nnlab import checks

    print(checks.__file__)
