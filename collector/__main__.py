"""`python -m collector` is the same as the `e2e-energy` command."""

from collector.cli import main

if __name__ == "__main__":
    main()
