"""What a state means: dead units, frozen parameters, the eight cases, events
(``diagnosis``), and how a run ends (``outcomes``). Each rule is written once, here."""
