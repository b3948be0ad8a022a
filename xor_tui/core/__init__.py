"""The engine: simulation, diagnosis, scenarios, survey. Never imports textual."""
