"""The API's wire: its paths, its bodies and their writers, for the server and the command
line (the service answers in figures; this is where they become JSON, CSV and text)."""
