"""The TUI's 研修 mode (issue 25 §2): the start screen, the 研修 tab beside the staff
console (the case, the patient's words, the documents handed over, the 会計), the
patient played on the reader panel, the feedback after each case and the final report.

It drives the headless engine (reception.training: the run, its case desk, the score);
the simulated clinic (reception.sim) builds the run and the services it runs on and
hands them over — the TUI never imports the simulator."""
