"""A training room in the browser (issue 26): ``reception room`` serves the 研修 terminal
to trainees' browsers, a desk each (its own terminal process, store, clinic code and
folder), one mock service for all, and the trainer's page."""
