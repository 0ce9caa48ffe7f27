# IPython startup file of the sandboxed kernel, copied into its profile's startup folder by
# SandboxKernelManager (see docs/sandbox.md): a segfault's Python traceback goes to the kernel log (the
# kernel's original stderr), not into the captured, lost-at-death stderr pipe. Leaves no names.


def _nnlab_sandbox_faulthandler() -> None:
    import faulthandler
    import sys

    faulthandler.enable(file=getattr(sys.stderr, "_original_stdstream_copy", 2), all_threads=False)


_nnlab_sandbox_faulthandler()
del _nnlab_sandbox_faulthandler
