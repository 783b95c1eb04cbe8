from coda_jupyter.terminals.manager import CodaTerminalManager

# Output that may land after the pause mark: one read burst, plus the last
# PTY read (terminado reads up to 65,536 characters at a time).
OVERSHOOT: int = CodaTerminalManager.read_burst.default_value + 65_536
