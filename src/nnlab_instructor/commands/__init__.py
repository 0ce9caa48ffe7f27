"""The subcommands of ``nnlab``: each reads its arguments and calls the library; nothing else."""
