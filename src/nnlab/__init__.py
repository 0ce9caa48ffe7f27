"""Course library of "Neural networks from scratch in numpy, on MNIST".

- :mod:`nnlab.data`: load MNIST (IDX folder, OpenML, or loudly the 8x8 digits), one-hot labels, split.
- :mod:`nnlab.reference`: the reference maths every notebook, test and benchmark uses.
- :mod:`nnlab.plots`: digits, loss curves, confusion matrix, confident mistakes.
"""

__version__ = "0.1.0"
