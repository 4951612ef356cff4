"""`python -m gpu_stack.cli` runs the command line (the program lives in `gpu_stack.interface.cli`)."""

from gpu_stack.interface.cli import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()
