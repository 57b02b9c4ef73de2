"""The ground floor: settings, ids, enums and the state machine, contracts, parameters, mime,
storage, logging and Temporal connection config. Imports nothing of the project."""
