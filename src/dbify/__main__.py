"""``python -m dbify`` runs the command line."""

from dbify.cli import main

main()
