"""One module per ``bme-migrate`` sub-command. Thin: parse options, call the stage, print the result."""
