"""Grading a class on a Dask distributed cluster: one task per student, one writer.

- :mod:`.travel`: what a task carries (the submission folder's bytes and their SHA-256) and what every
  worker must share with the coordinator (:func:`.travel.environment`: Python, nnlab, numpy, the grader);
- :mod:`.task`: the worker's side: the assignment's files, once per worker (a worker plugin), and
  :func:`.task.grade_task`, which writes the bytes into a private folder and calls
  :func:`~nnlab_instructor.grading.worker.grade_submission`;
- :mod:`.journal`: every finished outcome written as it arrives, fsynced in groups (``--resume`` reads it);
- :mod:`.cluster`: the coordinator's side: who may be connected to (TLS, or ``tcp://`` on loopback only),
  submitting, retrying a grader's exception a bounded number of times, collecting;
- :mod:`.worker_check`: ``nnlab worker`` runs a tiny notebook in the sandbox before joining.

``dask`` and ``distributed`` are the optional extra ``[dask]``: only this package imports them.
"""
