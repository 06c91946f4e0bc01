from deconstruct.cli import entry

entry()
