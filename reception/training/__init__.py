"""Training runs (issue 25): a trainer's scenarios, the simulated patient, the trainee's
actions through the terminal's own core, and each case's score and explanation.

Headless and Textual-free: ``scenario`` (the TOML files), ``phrases`` (what patients say
and what staff may answer), ``actions`` (what a trainee does), ``scoring``, ``journal``
(a run on disk: resumable after a kill -9) and ``report`` (HTML and CSV). The simulator's
side that seeds a world, serves it and plays the patients is ``reception.sim.training``.
"""
