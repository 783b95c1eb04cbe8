"""Agent terminals: environment and launch command for Jupyter's terminal manager."""
